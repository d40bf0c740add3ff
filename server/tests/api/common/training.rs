//! Training through the API and waiting for the result, for tests about what comes after.

use std::time::{Duration, Instant};

use app::model::job::JobInfo;

use super::{client, Remote};

impl Remote {
    /// Submits a job and waits (up to two minutes) until it has ended; panics unless it succeeded.
    pub async fn train(&self, token: &str, body: serde_json::Value) -> JobInfo {
        let r = client().post(self.url("/api/jobs")).bearer_auth(token).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201, "submit: {}", r.text().await.unwrap());
        let id = r.json::<JobInfo>().await.unwrap().id;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let j: JobInfo = self.get_as(token, &format!("/api/jobs/{id}")).await.json().await.unwrap();
            if j.status.is_final() {
                assert!(j.model_id.is_some(), "the job did not succeed: {j:?}");
                return j;
            }
            assert!(Instant::now() < deadline, "the job did not end: {j:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
