//! `GET /api/health` against real storage: the embedded database in memory and on disk,
//! and a local object-store directory that we then break.

use crate::common;
use crate::common::{client, walk, TestServer};
use serde_json::Value;
use server::config::{Config, DatabaseUrl};

#[tokio::test]
async fn healthy_server_reports_every_part_ok() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let res = client().get(srv.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok", "db": "ok", "store": "ok", "version": env!("CARGO_PKG_VERSION")}));
    // The store probe cleans up after itself.
    let leftovers: Vec<_> = walk(&dir.path().join("objects"));
    assert!(leftovers.is_empty(), "health probe left objects behind: {leftovers:?}");
    srv.stop().await;
}

#[tokio::test]
async fn embedded_surrealkv_database_lives_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.database = DatabaseUrl::SurrealKv(dir.path().join("db"));
    let srv = TestServer::start(config).await;
    let res = client().get(srv.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["db"], "ok");
    // The health probe's write went to disk, under the directory we configured.
    let files = walk(&dir.path().join("db"));
    assert!(!files.is_empty(), "no SurrealKV files under the data directory");
    srv.stop().await;
}

#[tokio::test]
async fn broken_object_store_is_named_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    // Replace the store's directory with a plain file: writes under it must now fail.
    let objects = dir.path().join("objects");
    std::fs::remove_dir_all(&objects).unwrap();
    std::fs::write(&objects, b"not a directory").unwrap();

    let res = client().get(srv.url("/api/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["db"], "ok");
    let store = body["store"].as_str().unwrap();
    assert!(store.starts_with("error: "), "{store}");
    srv.stop().await;
}

/// `/metrics` in the Prometheus text format: requests by route template and status, the
/// latency histogram, jobs by status and stored dataset bytes.
#[tokio::test]
async fn metrics_count_requests_by_route_and_report_jobs_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = common::TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let s = srv.seal(b"a,b\n1,2\n3,4\n", app::table::Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &s).await;
    for _ in 0..3 {
        assert_eq!(srv.get_as(&alice.access, "/api/health").await.status(), 200);
    }
    assert_eq!(srv.get_as(&alice.access, &format!("/api/datasets/{}", "0".repeat(32))).await.status(), 404);
    let r = common::client().get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{text}")).to_owned();
    assert!(line(r#"cipherfold_http_requests_total{route="/api/health",status="200"}"#).ends_with(" 3"));
    assert!(line(r#"cipherfold_http_requests_total{route="/api/datasets/{id}",status="404"}"#).ends_with(" 1"), "ids are not labels");
    assert!(line(r#"cipherfold_http_request_duration_seconds_count{route="/api/health"}"#).ends_with(" 3"));
    assert!(line(r#"cipherfold_jobs{status="queued"}"#).ends_with(" 0"));
    let stored = s.envelope.len();
    assert!(line(r#"cipherfold_dataset_bytes_stored{kind="ciphertext"}"#).ends_with(&format!(" {stored}")), "{text}");
    srv.stop().await;
}

/// With `--metrics-token`, `/metrics` answers only a scrape that sends it.
#[tokio::test]
async fn metrics_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.metrics_token = Some("a long scrape token 0123456789".into());
    let srv = common::TestServer::start(config).await;
    let scrape = |auth: Option<&'static str>| {
        let mut req = common::client().get(srv.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    let r = scrape(None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert!(r.text().await.unwrap().contains("--metrics-token"), "the refusal says what to send");
    for wrong in ["Bearer a long scrape token 012345678", "Bearer ", "Basic a long scrape token 0123456789"] {
        assert_eq!(scrape(Some(wrong)).await.unwrap().status(), 401, "{wrong}");
    }
    let r = scrape(Some("Bearer a long scrape token 0123456789")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("cipherfold_http_requests_total"));
    srv.stop().await;
}
