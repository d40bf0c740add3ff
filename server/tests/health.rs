//! `GET /api/health` against real storage: the embedded database in memory and on disk,
//! and a local object-store directory that we then break.

mod common;

use common::{client, walk, TestServer};
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
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "db": "ok", "store": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
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

