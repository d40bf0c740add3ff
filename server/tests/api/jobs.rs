//! Training jobs over HTTP with a real server: submit, follow the server-sent events (and
//! replay them), read the stored model, cancel, refuse bad requests by field, joint jobs only
//! with consent, and leases that expire.

use crate::common;
use std::time::{Duration, Instant};

use crate::common::{client, TestServer};
use app::ml::metrics::Metrics;
use app::ml::model::Model;
use app::model::job::{JobEvent, JobEventRecord, JobInfo, JobStatus};
use app::table::{Format, ParseOptions, Table};
use object_store::ObjectStoreExt;
use serde_json::json;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../app/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn submit(srv: &TestServer, token: &str, body: serde_json::Value) -> reqwest::Response {
    client().post(srv.url("/api/jobs")).bearer_auth(token).json(&body).send().await.unwrap()
}

async fn job(srv: &TestServer, token: &str, id: &str) -> JobInfo {
    srv.get_as(token, &format!("/api/jobs/{id}")).await.json().await.unwrap()
}

/// Reads a server-sent-events stream until it ends (the server closes it after the job's last
/// event) or `limit` passes.
async fn read_events(srv: &TestServer, token: &str, id: &str, last_event_id: Option<u64>, limit: Duration) -> Vec<JobEventRecord> {
    let mut req = client().get(srv.url(&format!("/api/jobs/{id}/events"))).bearer_auth(token);
    if let Some(l) = last_event_id {
        req = req.header("Last-Event-ID", l.to_string());
    }
    let mut res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline.into(), res.chunk()).await.unwrap_or(Ok(None)) {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut name, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<u64>().unwrap());
                } else if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(v.trim().to_owned());
                }
            }
            if let (Some(id), Some(name), Some(data)) = (id, name, data) {
                let record: JobEventRecord = serde_json::from_str(&data).unwrap();
                assert_eq!((record.seq, record.event.name()), (id, name.as_str()), "the SSE id and name match the payload");
                out.push(record);
            }
        }
    }
    out
}

/// Submits `body`, expects a 422 whose message for `field` contains `text`; returns the message.
async fn refused(srv: &TestServer, token: &str, body: serde_json::Value, field: &str, text: &str) -> String {
    let r = submit(srv, token, body.clone()).await;
    assert_eq!(r.status(), 422, "{body}");
    let e: app::model::ApiError = r.json().await.unwrap();
    let msg = e.field_message(field).unwrap_or_else(|| panic!("{body}: {e:?}")).to_owned();
    assert!(msg.contains(text), "{field}: {msg}");
    msg
}

async fn iris_dataset(srv: &TestServer, token: &str) -> String {
    let s = srv.seal(&data("iris.csv"), Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
    srv.store_dataset(token, &s).await;
    s.id
}

#[tokio::test]
async fn a_forest_on_iris_streams_its_progress_and_stores_an_encrypted_model() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;

    let r = submit(
        &srv,
        &alice.access,
        json!({
            "dataset_ids": [ds], "target": "species", "cv_folds": 5, "seed": 0,
            "model": {"kind": "forest", "params": {"trees": 25}}
        }),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let info: JobInfo = r.json().await.unwrap();
    let events = read_events(&srv, &alice.access, &info.id, None, Duration::from_secs(120)).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.name()).collect();
    assert_eq!(&names[..3], ["queued", "started", "loaded"], "{names:?}");
    assert_eq!(names.last(), Some(&"finished"), "{names:?}");
    assert!(events.windows(2).all(|w| w[1].seq == w[0].seq + 1), "sequence numbers have no gaps");
    let folds: Vec<f64> =
        events.iter().filter_map(|e| if let JobEvent::Fold { score, .. } = e.event { Some(score) } else { None }).collect();
    assert_eq!(folds.len(), 5);
    assert!(names.contains(&"step"), "trees are reported as steps");
    let JobEvent::Finished { score, model_id, metric } = &events.last().unwrap().event else { panic!() };
    assert_eq!(metric, "accuracy");
    assert!((score - folds.iter().sum::<f64>() / 5.0).abs() < 1e-9 || *score > 0.9, "{score}");

    let done = job(&srv, &alice.access, &info.id).await;
    assert_eq!((done.status, done.progress, done.attempts), (JobStatus::Succeeded, 1.0, 1));
    let Some(Metrics::Classification(m)) = &done.metrics else { panic!("{:?}", done.metrics) };
    assert!(m.accuracy > 0.9 && m.confusion.len() == 3, "{m:?}");
    assert_eq!(done.model_id.as_ref(), Some(model_id));

    // The model is sealed at rest: no label, no parameter text in the object.
    let raw = srv.backend.store.get(&server::backend::models::model_path(model_id)).await.unwrap().bytes().await.unwrap();
    assert_eq!(&raw[..8], b"CFENVLP\0");
    assert!(!raw.windows(6).any(|w| w == b"setosa") && !raw.windows(9).any(|w| w == b"threshold"));
    // …and opens with the trainer key to a model that predicts like its cross-validated figures.
    let artifact = srv.backend.models.load(model_id).await.unwrap();
    assert_eq!(artifact.job_id, info.id);
    let table = Table::parse(&data("iris.csv"), Format::Csv, &ParseOptions::default()).unwrap();
    let x = artifact.preprocessor.transform(&table, &(0..150).collect::<Vec<_>>()).unwrap();
    let pred = artifact.model.predict(&x).unwrap();
    let labels = artifact.labels.clone().unwrap();
    let species = table.column_index("species").unwrap();
    let right = (0..150).filter(|i| labels[pred[*i] as usize] == table.cell(*i, species).to_string()).count();
    assert!(right >= 145, "a forest fits its own training rows: {right}/150");

    // A late subscriber replays from Last-Event-ID and the stream still ends at the end.
    let replay = read_events(&srv, &alice.access, &info.id, Some(3), Duration::from_secs(10)).await;
    assert_eq!(replay.first().map(|e| e.seq), Some(4));
    assert_eq!(replay, events[3..].to_vec());
    // Resuming after the last event ends at once rather than waiting for events that never come.
    let last = events.last().unwrap().seq;
    let started = Instant::now();
    assert!(read_events(&srv, &alice.access, &info.id, Some(last), Duration::from_secs(10)).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5), "the stream ended promptly");
    // Someone else sees nothing of it.
    let bob = srv.user("bob").await;
    assert_eq!(srv.get_as(&bob.access, &format!("/api/jobs/{}", info.id)).await.status(), 404);
    assert_eq!(srv.get_as(&bob.access, &format!("/api/jobs/{}/events", info.id)).await.status(), 404);
    let mine: Vec<JobInfo> = srv.get_as(&bob.access, "/api/jobs").await.json().await.unwrap();
    assert!(mine.is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_field_to_correct() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let cases = [
        (json!({"dataset_ids": [], "target": "species", "model": {"kind": "forest"}}), "dataset_ids", "at least one"),
        (
            json!({"dataset_ids": ["0123456789abcdef0123456789abcdef"], "target": "species", "model": {"kind": "forest"}}),
            "dataset_ids",
            "no dataset",
        ),
        (json!({"dataset_ids": [ds], "target": "colour", "model": {"kind": "forest"}}), "target", "no column named “colour”"),
        (json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "linear"}}), "model.kind", "categorical"),
        (json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "forest", "search": {"grid": {}}}}), "model.search", "empty"),
        (
            json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "forest", "params": {"tres": 5}}}),
            "model.params",
            "unknown field `tres`",
        ),
        (json!({"dataset_ids": [ds], "target": "species", "cv_folds": 1, "model": {"kind": "tree"}}), "cv_folds", "2 to 20"),
    ];
    for (body, field, text) in cases {
        refused(&srv, &alice.access, body, field, text).await;
    }
    // Hyperparameters out of range: refused before anything is queued, the field named.
    let params = [
        (json!({"kind": "forest", "params": {"trees": 0}}), "model.params.trees", "between 1 and"),
        (json!({"kind": "forest", "params": {"max_depth": 0}}), "model.params.max_depth", "at least 1"),
        (json!({"kind": "tree", "params": {"max_depth": 0}}), "model.params.max_depth", "at least 1"),
        (json!({"kind": "dqn", "params": {"epochs": 0}}), "model.params.epochs", "at least 1"),
        (json!({"kind": "logistic", "params": {"alpha": -0.5}}), "model.params.alpha", "≥ 0"),
        (
            json!({"kind": "ensemble", "params": {"members": [{"kind": "logistic"}, {"kind": "forest", "params": {"trees": 0}}]}}),
            "model.params.members[1].params.trees",
            "between 1 and",
        ),
    ];
    // A body of the wrong shape names its field and what was expected, in plain words.
    let shapes = [
        (json!({"dataset_ids": [ds], "target": "species", "cv_folds": -1, "model": {"kind": "forest"}}), "cv_folds", "a whole number ≥ 0"),
        (json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "boosting"}}), "model.kind", "unknown variant `boosting`"),
        (json!({"dataset_ids": "all", "target": "species", "model": {"kind": "forest"}}), "dataset_ids", "expected an array"),
        (json!({"dataset_ids": [ds], "model": {"kind": "forest"}}), "target", "required"),
    ];
    for (model, field, text) in params {
        refused(&srv, &alice.access, json!({"dataset_ids": [ds], "target": "species", "model": model}), field, text).await;
    }
    for (body, field, text) in shapes {
        let msg = refused(&srv, &alice.access, body, field, text).await;
        assert!(!msg.contains("line 1") && !msg.contains("usize"), "no serde positions or Rust types: {msg}");
    }
    let r = client().post(srv.url("/api/jobs")).bearer_auth(&alice.access).body("{\"dataset_ids\": [").send().await.unwrap();
    assert_eq!(r.status(), 422);
    let e: app::model::ApiError = r.json().await.unwrap();
    assert!(e.field_message("body").is_some_and(|m| m.contains("JSON")), "{e:?}");
    let jobs: Vec<JobInfo> = srv.get_as(&alice.access, "/api/jobs").await.json().await.unwrap();
    assert!(jobs.is_empty(), "nothing was queued");
    srv.stop().await;
}

#[tokio::test]
async fn cancel_stops_a_running_job_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let r = submit(
        &srv,
        &alice.access,
        json!({
            "dataset_ids": [ds], "target": "species",
            "model": {"kind": "dqn", "params": {"epochs": 100000}}
        }),
    )
    .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<JobInfo>().await.unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = job(&srv, &alice.access, &id).await;
        let history = srv.backend.jobs.history(&srv_ctx(&srv, &alice).await, &id).await.unwrap();
        if j.status == JobStatus::Running && j.progress > 0.0 && history.iter().any(|e| e.event.name() == "step") {
            break;
        }
        assert!(Instant::now() < deadline, "the job never made progress: {j:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = Instant::now();
    let r = client().post(srv.url(&format!("/api/jobs/{id}/cancel"))).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let j: JobInfo = r.json().await.unwrap();
    assert_eq!(j.status, JobStatus::Cancelled, "cancelled by the time the answer came");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    let events = read_events(&srv, &alice.access, &id, None, Duration::from_secs(5)).await;
    assert_eq!(events.last().map(|e| e.event.name()), Some("cancelled"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = read_events(&srv, &alice.access, &id, None, Duration::from_secs(5)).await;
    assert_eq!(after.len(), events.len(), "nothing is recorded after the cancel");
    let again = client().post(srv.url(&format!("/api/jobs/{id}/cancel"))).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(again.status(), 409);
    srv.stop().await;
}

#[tokio::test]
async fn joint_jobs_need_each_owners_consent_and_train_per_owner() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let csv = String::from_utf8(data("iris.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    // Alice holds the even rows, Bob the odd ones; both have all three species.
    let half = |parity| {
        format!("{header}\n{}\n", rows.iter().enumerate().filter(|(i, _)| i % 2 == parity).map(|(_, r)| *r).collect::<Vec<_>>().join("\n"))
    };
    let a = srv.seal(half(0).as_bytes(), Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &a).await;
    let mut b = srv.seal(half(1).as_bytes(), Format::Csv, None, 4096).await;
    b.declared.shared = true;
    srv.store_dataset(&bob.access, &b).await;
    let body = json!({"dataset_ids": [a.id, b.id], "target": "species", "model": {"kind": "logistic"}});

    let r = submit(&srv, &alice.access, body.clone()).await;
    assert_eq!(r.status(), 422);
    let e: app::model::ApiError = r.json().await.unwrap();
    assert!(e.field_message("dataset_ids").unwrap().contains("has not consented"), "{e:?}");
    // Only the owner can consent.
    let consent = |token: String, allow| {
        let url = srv.url(&format!("/api/datasets/{}/consent", b.id));
        async move { client().put(url).bearer_auth(token).json(&json!({"allow": allow})).send().await.unwrap().status() }
    };
    assert_eq!(consent(alice.access.clone(), true).await, 403);
    assert_eq!(consent(bob.access.clone(), true).await, 200);
    let tree = json!({"dataset_ids": [a.id, b.id], "target": "species", "model": {"kind": "tree"}});
    let r = submit(&srv, &alice.access, tree).await;
    assert_eq!(r.status(), 422, "a single tree cannot be combined");
    let e: app::model::ApiError = r.json().await.unwrap();
    assert!(e.field_message("model.kind").is_some_and(|m| m.contains("cannot be combined")), "{e:?}");
    // A soft-voting ensemble is refused when a member cannot be combined (the default members
    // include a tree), before anything is queued, naming the member.
    for (model, field) in [
        (json!({"kind": "ensemble"}), "model.params.members"),
        (json!({"kind": "ensemble", "params": {"members": [{"kind": "logistic"}, {"kind": "tree"}]}}), "model.params.members[1].kind"),
        (json!({"kind": "ensemble", "params": {"method": "stacking"}}), "model.params.method"),
    ] {
        let r = submit(&srv, &alice.access, json!({"dataset_ids": [a.id, b.id], "target": "species", "model": model})).await;
        assert_eq!(r.status(), 422, "{model}");
        let e: app::model::ApiError = r.json().await.unwrap();
        assert!(e.field_message(field).is_some_and(|m| m.contains("cannot be combined")), "{model}: {e:?}");
    }

    let r = submit(&srv, &alice.access, body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let id = r.json::<JobInfo>().await.unwrap().id;
    let events = read_events(&srv, &alice.access, &id, None, Duration::from_secs(120)).await;
    assert!(matches!(
        events.iter().find(|e| e.event.name() == "loaded").map(|e| &e.event),
        Some(JobEvent::Loaded { datasets: 2, rows: 150, .. })
    ));
    let j = job(&srv, &alice.access, &id).await;
    assert_eq!(j.status, JobStatus::Succeeded, "{:?}", j.error);
    assert_eq!(j.dataset_names.len(), 2);
    let score = j.metrics.unwrap().score();
    assert!(score > 0.9, "FedAvg logistic on two halves of iris: {score}");
    srv.stop().await;
}

#[tokio::test]
async fn an_expired_lease_returns_the_job_to_the_queue_until_the_attempts_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.jobs.workers = 0; // nobody picks the job up: this test plays the dead worker
    config.jobs.max_attempts = 2;
    let srv = TestServer::start(config).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let r = submit(&srv, &alice.access, json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "tree"}})).await;
    let id = r.json::<JobInfo>().await.unwrap().id;
    let db = &srv.backend.db;
    let die = |attempts: i64| {
        db.query("UPDATE job SET status = 'running', lease_owner = 'dead-worker', lease_until = 1, attempts = $a WHERE uid = $id")
            .bind(("a", attempts))
            .bind(("id", id.clone()))
    };
    die(1).await.unwrap().check().unwrap();
    // A live lease is left alone.
    db.query("UPDATE job SET lease_until = 99999999999999 WHERE uid = $id").bind(("id", id.clone())).await.unwrap();
    assert_eq!(srv.backend.jobs.requeue(true).await.unwrap(), 0);
    die(1).await.unwrap().check().unwrap();
    assert_eq!(srv.backend.jobs.requeue(true).await.unwrap(), 1);
    let j = job(&srv, &alice.access, &id).await;
    assert_eq!(j.status, JobStatus::Queued);
    die(2).await.unwrap().check().unwrap();
    assert_eq!(srv.backend.jobs.requeue(true).await.unwrap(), 1);
    let j = job(&srv, &alice.access, &id).await;
    assert_eq!(j.status, JobStatus::Failed);
    assert!(j.error.as_deref().unwrap().contains("attempt 2, the last allowed"), "{:?}", j.error);
    let history: Vec<String> =
        srv.backend.jobs.history(&srv_ctx(&srv, &alice).await, &id).await.unwrap().iter().map(|e| e.event.name().to_owned()).collect();
    assert_eq!(history, ["queued", "requeued", "failed"]);
    srv.stop().await;
}

/// The backend's context for `user`, as the session layer would make it for a request.
async fn srv_ctx(srv: &TestServer, user: &common::User) -> server::backend::authz::Ctx {
    server::backend::authz::Ctx { actor: srv.backend.auth.authenticate(&user.access).await.unwrap(), client: "-".into() }
}

/// Statuses are an enum the database checks: an unknown one is refused at the write, and
/// reading one back never falls back to a default.
#[tokio::test]
async fn the_database_refuses_an_unknown_status() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let db = &srv.backend.db;
    let write = |table: &'static str, status: &'static str| {
        let id = ds.clone();
        async move {
            db.query(format!("UPDATE {table} SET status = $s WHERE uid = $id")).bind(("s", status)).bind(("id", id)).await.unwrap().check()
        }
    };
    assert!(write("dataset", "bogus").await.is_err(), "an unknown dataset status is refused");
    assert!(write("dataset", "ready").await.is_ok());
    let r =
        submit(&srv, &alice.access, json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "forest", "params": {"trees": 2}}}))
            .await;
    let job = r.json::<JobInfo>().await.unwrap().id;
    let r = db.query("UPDATE job SET status = 'done' WHERE uid = $id").bind(("id", job)).await.unwrap().check();
    assert!(r.is_err(), "an unknown job status is refused");
    for s in JobStatus::ALL {
        assert_eq!(JobStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(JobStatus::parse("done"), None);
    srv.stop().await;
}

/// The worker's step, driven by the test: with no background workers the job stays queued
/// until `run_next` runs it, to the end, in the test's own time.
#[tokio::test]
async fn run_next_runs_the_oldest_queued_job_to_its_end() {
    use server::backend::jobs::Outcome;
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.jobs.workers = 0;
    let srv = TestServer::start(config).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let jobs = &srv.backend.jobs;
    assert_eq!(jobs.run_next("test").await.unwrap(), Outcome::Empty, "nothing queued yet");
    let mut ids = Vec::new();
    for trees in [3, 4] {
        let body =
            json!({"dataset_ids": [ds], "target": "species", "cv_folds": 2, "model": {"kind": "forest", "params": {"trees": trees}}});
        let r = submit(&srv, &alice.access, body).await;
        assert_eq!(r.status(), 201);
        ids.push(r.json::<JobInfo>().await.unwrap().id);
    }
    assert_eq!(job(&srv, &alice.access, &ids[0]).await.status, JobStatus::Queued, "no worker took it");
    for id in &ids {
        assert_eq!(jobs.run_next("test").await.unwrap(), Outcome::Ran { job: id.clone() }, "oldest first");
        let j = job(&srv, &alice.access, id).await;
        assert_eq!(j.status, JobStatus::Succeeded, "{:?}", j.error);
        assert!(j.model_id.is_some());
    }
    assert_eq!(jobs.run_next("test").await.unwrap(), Outcome::Empty);
    srv.stop().await;
}

/// What a client reads of a dataset, its job, the job's events and the model.
async fn answers(
    srv: &TestServer,
    token: &str,
    ds: &str,
    job: &str,
    model: &str,
) -> (serde_json::Value, serde_json::Value, serde_json::Value, Vec<JobEventRecord>) {
    let get = |path: String| async move { srv.get_as(token, &path).await.json::<serde_json::Value>().await.unwrap() };
    let events = read_events(srv, token, job, None, Duration::from_secs(10)).await;
    (get(format!("/api/datasets/{ds}")).await, get(format!("/api/jobs/{job}")).await, get(format!("/api/models/{model}")).await, events)
}

/// An earlier version stored nested values (a dataset's schema and keys, a job's request and
/// metrics, events, a model's summary) as JSON text. Applying the schema converts them to
/// objects once, and every answer reads as before, events bit for bit.
#[tokio::test]
async fn nested_values_stored_as_json_text_by_an_earlier_version_are_converted_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let body = json!({"dataset_ids": [ds], "target": "species", "cv_folds": 2, "model": {"kind": "forest", "params": {"trees": 3}}});
    let j = srv.train(&alice.access, body).await;
    let model = j.model_id.clone().unwrap();
    let before = answers(&srv, &alice.access, &ds, &j.id, &model).await;
    assert!(!before.3.is_empty());

    // Back to the earlier layout: the fields are text, holding the JSON of their value.
    let db = &srv.backend.db;
    let mut texts = 0;
    for (table, field) in server::backend::schema::JSON_TEXT_FIELDS {
        db.query(format!("DEFINE FIELD OVERWRITE {field} ON {table} TYPE option<string>")).await.unwrap().check().unwrap();
        let rows: Vec<serde_json::Value> =
            db.query(format!("SELECT VALUE [<string> id, {field}] FROM {table}")).await.unwrap().take(0).unwrap();
        for row in rows {
            let text = serde_json::to_string(&row[1]).unwrap();
            db.query(format!("UPDATE <record> $id SET {field} = $text"))
                .bind(("id", row[0].as_str().unwrap().to_owned()))
                .bind(("text", text))
                .await
                .unwrap()
                .check()
                .unwrap();
            texts += 1;
        }
    }
    let is_text: Option<bool> = db.query("SELECT VALUE type::is_string(request) FROM job LIMIT 1").await.unwrap().take(0).unwrap();
    assert_eq!((is_text, texts > 10), (Some(true), true), "the earlier layout is in place");

    server::backend::schema::apply(db).await.unwrap();
    let is_object: Option<bool> = db.query("SELECT VALUE type::is_object(request) FROM job LIMIT 1").await.unwrap().take(0).unwrap();
    assert_eq!(is_object, Some(true), "converted to objects");
    let ids: Vec<String> = db.query("SELECT VALUE request.dataset_ids[0] FROM job").await.unwrap().take(0).unwrap();
    assert_eq!(ids, std::slice::from_ref(&ds), "the database reads into the request");
    let after = answers(&srv, &alice.access, &ds, &j.id, &model).await;
    assert_eq!(after.0, before.0, "dataset");
    assert_eq!(after.1, before.1, "job");
    assert_eq!(after.2, before.2, "model");
    assert_eq!(after.3, before.3, "events");
    // A second start finds nothing to convert and changes nothing.
    server::backend::schema::apply(db).await.unwrap();
    assert_eq!(answers(&srv, &alice.access, &ds, &j.id, &model).await.3, before.3);
    srv.stop().await;
}

/// The trainer reads a dataset as it was declared: a numeric column declared categorical is
/// trained as categories; a declaration its values cannot fit fails the job with a message
/// naming the column and both kinds (not an internal error).
#[tokio::test]
async fn the_trainer_honours_the_declared_kinds_where_the_values_allow_it() {
    use app::table::ColumnKind;
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let chunk = app::crypto::envelope::DEFAULT_CHUNK_SIZE;
    let mut s = srv.seal(&data("iris.csv"), Format::Csv, None, chunk).await;
    assert_eq!(s.declared.schema[3].name, "petal_width_cm");
    s.declared.schema[3].kind = ColumnKind::Categorical;
    srv.store_dataset(&alice.access, &s).await;
    let body = json!({"dataset_ids": [s.id], "target": "species", "cv_folds": 2, "model": {"kind": "tree"}});
    let j = srv.train(&alice.access, body).await;
    let model: serde_json::Value = srv.get_as(&alice.access, &format!("/api/models/{}", j.model_id.unwrap())).await.json().await.unwrap();
    let width = model["inputs"].as_array().unwrap().iter().find(|i| i["name"] == "petal_width_cm").unwrap().clone();
    assert_eq!(width["kind"], "categorical", "{width}");
    assert!(width["categories"].as_array().unwrap().iter().any(|c| c == "0.2"), "{width}");

    let mut bad = srv.seal(&data("iris.csv"), Format::Csv, None, chunk).await;
    bad.declared.schema[4].kind = ColumnKind::Numeric;
    srv.store_dataset(&alice.access, &bad).await;
    let body = json!({"dataset_ids": [bad.id], "target": "sepal_length_cm", "cv_folds": 2, "model": {"kind": "linear"}});
    let r = submit(&srv, &alice.access, body).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<JobInfo>().await.unwrap().id;
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let j = job(&srv, &alice.access, &id).await;
        if j.status.is_final() {
            break j;
        }
        assert!(Instant::now() < deadline, "the job did not end");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.status, JobStatus::Failed);
    let reason = failed.error.unwrap();
    assert!(reason.ends_with("column “species” was declared numeric but its values read as categorical"), "{reason}");
    assert!(!reason.contains("internal"), "{reason}");
    srv.stop().await;
}

/// A job with a target ε: the trainer finds σ, says so in the job's events, and the model's
/// record keeps what was spent, which the accountant confirms on its own; the analytics
/// dashboard carries the model's ε. Bad privacy settings are 422s naming the field.
#[tokio::test]
async fn a_private_job_meets_its_target_epsilon_and_the_model_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = iris_dataset(&srv, &alice.access).await;
    let body =
        |privacy: serde_json::Value| json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "logistic"}, "privacy": privacy});
    refused(&srv, &alice.access, body(json!({"epsilon": 0})), "privacy.epsilon", "above 0").await;
    refused(&srv, &alice.access, body(json!({"noise_multiplier": -1})), "privacy.noise_multiplier", "above 0").await;
    refused(&srv, &alice.access, body(json!({"epsilon": 1, "clip_norm": 0})), "privacy.clip_norm", "above 0").await;
    refused(&srv, &alice.access, body(json!({"epsilon": 1, "delta": 0.01})), "privacy.delta", "1/rows").await;
    refused(&srv, &alice.access, body(json!({"epsilon": 1, "batch_size": 151})), "privacy.batch_size", "150 rows").await;
    let forest = json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "forest"}, "privacy": {"epsilon": 1}});
    refused(&srv, &alice.access, forest, "model.kind", "no differentially private training").await;

    let r = submit(&srv, &alice.access, body(json!({"epsilon": 2, "epochs": 10}))).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let info: JobInfo = r.json().await.unwrap();
    let events = read_events(&srv, &alice.access, &info.id, None, Duration::from_secs(120)).await;
    let spent =
        events.iter().find_map(|e| if let JobEvent::Privacy(p) = &e.event { Some(p.clone()) } else { None }).expect("a privacy event");
    assert!(spent.searched && spent.epsilon <= 2.0 && spent.epsilon > 1.98, "{spent:?}");
    let expected = app::dp::accountant::epsilon(spent.sampling_rate, spent.noise_multiplier, spent.steps, spent.delta).unwrap();
    assert_eq!(spent.epsilon, expected);
    assert_eq!((spent.sampling_rate, spent.steps, spent.delta), (32.0 / 150.0, 47, 1e-5));
    let JobEvent::Finished { model_id, score, .. } = &events.last().unwrap().event else { panic!("{events:?}") };
    assert!(*score > 0.7, "iris at ε = 2: {score}");
    let model: app::model::artifact::ModelInfo = srv.get_as(&alice.access, &format!("/api/models/{model_id}")).await.json().await.unwrap();
    assert_eq!(model.privacy.as_ref(), Some(&spent));
    let dash: app::model::analytics::Dashboard = srv.get_as(&alice.access, "/api/analytics").await.json().await.unwrap();
    let point = dash.models.iter().find(|m| &m.model_id == model_id).unwrap();
    assert_eq!(point.epsilon, Some(spent.epsilon));
    srv.stop().await;
}
