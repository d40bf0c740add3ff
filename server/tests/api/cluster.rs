//! Several `cipherfold serve` processes on one real SurrealDB server (`surreal-node`, the
//! `surrealdb-server` library) and one real S3 API (moto): nodes that share nothing but the
//! database and the object store. Built with `--features surreal-node` (scripts/test.sh does).

use std::time::{Duration, Instant};

use app::model::job::{JobInfo, JobStatus};
use app::table::Format;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::common::nodes::{cipherfold, moto, node, surreal, Shared};
use crate::common::{client, Remote, TestServer};

async fn job(node: &Remote, token: &str, id: &str) -> JobInfo {
    node.get_as(token, &format!("/api/jobs/{id}")).await.json().await.unwrap()
}

async fn submit(node: &Remote, token: &str, body: Value) -> String {
    let r = client().post(node.url("/api/jobs")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "submit: {}", r.text().await.unwrap());
    r.json::<JobInfo>().await.unwrap().id
}

async fn until(node: &Remote, token: &str, id: &str, secs: u64, done: impl Fn(&JobInfo) -> bool) -> JobInfo {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let j = job(node, token, id).await;
        if done(&j) {
            return j;
        }
        assert!(Instant::now() < deadline, "waited {secs} s: {j:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn predictions(node: &Remote, token: &str, model: &str, rows: &Value) -> String {
    let r = client()
        .post(node.url(&format!("/api/models/{model}/predict")))
        .bearer_auth(token)
        .json(&json!({"rows": rows}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn two_nodes_share_sessions_limits_jobs_live_events_and_survive_a_kill() {
    let (_surreal, database) = surreal().await;
    let (_moto, s3) = moto("cluster").await;
    let shared = Shared::new(database, s3, "cluster");
    // Each node's data directory holds its log (node.log); CIPHERFOLD_KEEP_NODE_LOGS=1 keeps them.
    let temps: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let dirs: Vec<std::path::PathBuf> = temps.iter().map(|t| t.path().to_owned()).collect();
    let _temps = match std::env::var_os("CIPHERFOLD_KEEP_NODE_LOGS") {
        Some(_) => {
            temps.into_iter().map(|t| eprintln!("node directory kept: {}", t.keep().display())).for_each(drop);
            None
        }
        None => Some(temps),
    };
    // A answers requests and trains nothing; B trains.
    let (_a_proc, a) = node(&shared, 0, &dirs[0]).await;
    let (b_proc, b) = node(&shared, 1, &dirs[1]).await;

    // The install's first two registrations reach the two nodes at once: exactly one of the
    // two people becomes the admin (the first_admin claim), the other a user.
    let (rc, rd) = tokio::join!(a.register("carol", "healthcare", "oncology"), b.register("dave", "healthcare", "oncology"));
    assert_eq!((rc.status().as_u16(), rd.status().as_u16()), (201, 201));
    let mut roles = Vec::new();
    for (n, who) in [(&a, "carol"), (&b, "dave")] {
        let t: Value = n.login(who, "correct horse battery").await.json().await.unwrap();
        let me: Value = n.get_as(t["access_token"].as_str().unwrap(), "/api/me").await.json().await.unwrap();
        roles.push(me["role"].as_str().unwrap().to_owned());
    }
    roles.sort();
    assert_eq!(roles, ["admin", "user"], "one first admin, not two");

    // One account, one session, on both nodes.
    let alice = a.user("alice").await;
    assert_eq!(b.get_as(&alice.access, "/api/me").await.status(), 200, "a token from A is good on B");

    // Login limits hold across nodes: five tries in all, not five per node.
    b.register("bob", "healthcare", "oncology").await;
    for (i, n) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        assert_eq!(n.login("bob", "wrong password!!").await.status(), 401, "try {}", i + 1);
    }
    assert_eq!(b.login("bob", "correct horse battery").await.status(), 429, "the sixth try, on the other node");

    // A refresh token presented to both nodes at once renews on both; the session goes on.
    let renew = |n: &Remote, t: String| {
        let url = n.url("/api/auth/refresh");
        async move { client().post(url).json(&json!({"refresh_token": t})).send().await.unwrap() }
    };
    let (ra, rb) = tokio::join!(renew(&a, alice.refresh.clone()), renew(&b, alice.refresh.clone()));
    assert_eq!((ra.status(), rb.status()), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
    let next: Value = rb.json().await.unwrap();
    assert_eq!(renew(&a, next["refresh_token"].as_str().unwrap().to_owned()).await.status(), 200);

    // Upload through A; train on B (A has no workers), followed live from A.
    let csv = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/diabetes.csv")).unwrap();
    let sealed = a.seal(&csv, Format::Csv, None, 1 << 16).await;
    a.store_dataset(&alice.access, &sealed).await;
    let spec = json!({"dataset_ids": [sealed.id], "target": "progression", "cv_folds": 3, "seed": 7,
        "model": {"kind": "forest", "params": {"trees": 20}}});
    let id = submit(&a, &alice.access, spec.clone()).await;
    let events = client().get(a.url(&format!("/api/jobs/{id}/events"))).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let mut stream = events.bytes_stream();
    let (mut text, mut folds_before_end, mut finished) = (String::new(), 0, false);
    let deadline = Instant::now() + Duration::from_secs(120);
    while let Ok(Some(chunk)) = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), stream.next()).await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        folds_before_end = text.matches("event: fold").count();
        if text.contains("event: finished") {
            finished = true;
            break;
        }
    }
    assert!(finished, "A's stream reached the end of a job B ran: {text}");
    assert_eq!(folds_before_end, 3, "every fold arrived on A, as it happened: {text}");
    let one = job(&a, &alice.access, &id).await;
    assert_eq!(one.status, JobStatus::Succeeded);
    let model = one.model_id.clone().unwrap();

    // Prediction through A and through B: byte for byte the same, and the same as one node's
    // model trained on the same bytes with the same request.
    let rows = json!([{"age": 50, "sex": 1, "bmi": 30.1, "bp": 90, "s1": 180, "s2": 100, "s3": 50, "s4": 4, "s5": 4.8, "s6": 90}, {"age": null, "sex": null, "bmi": 21.0, "bp": null, "s1": null, "s2": null, "s3": null, "s4": null, "s5": null, "s6": null}]);
    let via_a = predictions(&a, &alice.access, &model, &rows).await;
    assert_eq!(via_a, predictions(&b, &alice.access, &model, &rows).await);
    let single_dir = tempfile::tempdir().unwrap();
    let single = TestServer::in_memory(single_dir.path()).await;
    let solo = single.user("alice").await;
    let again = single.seal(&csv, Format::Csv, None, 1 << 16).await;
    single.store_dataset(&solo.access, &again).await;
    let mut solo_spec = spec.clone();
    solo_spec["dataset_ids"] = json!([again.id]);
    let solo_job = single.train(&solo.access, solo_spec).await;
    let solo_model = solo_job.model_id.unwrap();
    assert_eq!(via_a, predictions(&single, &solo.access, &solo_model, &rows).await, "one node and two nodes agree");
    single.stop().await;

    // A long job on B. A node that starts meanwhile does not take it while B holds its lease.
    let mut long = spec.clone();
    long["model"]["params"]["trees"] = json!(400);
    let long_id = submit(&a, &alice.access, long).await;
    until(&a, &alice.access, &long_id, 60, |j| j.status == JobStatus::Running).await;
    let (_c_proc, c) = node(&shared, 1, &dirs[2]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let j = job(&c, &alice.access, &long_id).await;
    assert_eq!((j.status, j.attempts), (JobStatus::Running, 1), "C left B's job alone: {j:?}");

    // kill -9 B: its lease runs out, C takes the job over and finishes it; A keeps answering.
    drop(b_proc);
    let ended = tokio::spawn({
        let (token, id) = (alice.access.clone(), long_id.clone());
        let a = Remote { addr: a.addr };
        async move { until(&a, &token, &id, 240, |j| j.status.is_final()).await }
    });
    for _ in 0..20 {
        assert_eq!(a.get_as(&alice.access, "/api/datasets").await.status(), 200, "A answers while B is gone");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let j = ended.await.unwrap();
    assert_eq!(j.status, JobStatus::Succeeded, "{j:?}");
    assert_eq!(j.attempts, 2, "B's attempt, then C's: {j:?}");

    // The audit log two nodes appended to is one unbroken chain.
    let out = cipherfold()
        .args(["audit", "verify", "--database", &shared.database, "--database-user", "root", "--database-pass", "root"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit log intact"));
}
