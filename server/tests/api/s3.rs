//! The object store against a real S3 API: moto's server (PyPI `moto[server]`, installed by
//! scripts/test.sh next to CIPHERFOLD_PYTHON) on 127.0.0.1. One test per process, because the
//! S3 client reads its endpoint and credentials from AWS_* environment variables.

use crate::common;
use crate::common::TestServer;
use app::table::Format;
use futures::StreamExt;
use object_store::ObjectStoreExt;
use server::config::{Config, ObjectStoreUrl};

#[tokio::test]
async fn datasets_stream_into_s3_as_multipart_uploads() {
    let (_moto, endpoint) = common::nodes::moto("cipherfold-test").await;
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ] {
        std::env::set_var(k, v);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.object_store = ObjectStoreUrl::S3 { bucket: "cipherfold-test".into(), prefix: "tenant-a".into() };
    let srv = TestServer::start(config).await;
    let health: serde_json::Value = reqwest::get(srv.url("/api/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["store"], "ok", "{health}");

    let alice = srv.user("alice").await;
    // 12 MB of CSV: three 5 MiB parts of a real multipart upload.
    let mut csv = String::from("a,b,c,label\n");
    let mut i = 0u64;
    while csv.len() < 12 * 1024 * 1024 {
        csv.push_str(&format!("{},{},{},{}\n", i, i * 7 % 1000, (i as f64).sqrt(), if i.is_multiple_of(3) { "yes" } else { "no" }));
        i += 1;
    }
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, 1 << 20).await;
    srv.store_dataset(&alice.access, &s).await;

    // The object is in the bucket under the prefix, and it is the ciphertext, byte for byte.
    let listing =
        reqwest::get(format!("{endpoint}/cipherfold-test?list-type=2&prefix=tenant-a/datasets/")).await.unwrap().text().await.unwrap();
    assert!(listing.contains(&format!("tenant-a/datasets/{}", s.id)), "{listing}");
    let stored = srv.backend.store.get(&server::backend::datasets::blob_path(&s.id)).await.unwrap();
    let mut bytes = Vec::new();
    let mut stream = stored.into_stream();
    while let Some(piece) = stream.next().await {
        bytes.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(bytes, s.envelope);
    // Opened as it streams from the bucket, window by window: the table of the whole file.
    let table = srv.backend.datasets.open_for_training(&s.id, "s3 test").await.unwrap();
    let whole = app::table::Table::parse_declared(csv.as_bytes(), Format::Csv, &s.declared.parse_options, &s.declared.schema).unwrap();
    assert_eq!((table.len() as u64, &table), (i, &whole));
    // A chunk past the first window changed in the bucket fails the open.
    let path = server::backend::datasets::blob_path(&s.id);
    let mut changed = s.envelope.clone();
    changed[40 + 10 * ((1 << 20) + 16) + 5] ^= 1;
    srv.backend.store.put(&path, changed.into()).await.unwrap();
    let err = srv.backend.datasets.open_for_training(&s.id, "s3 test").await.unwrap_err();
    assert!(err.to_string().contains("chunk 10 failed authentication"), "{err}");

    // An upload that ends short is aborted: no object appears in the bucket.
    let short = srv.seal(csv.as_bytes(), Format::Csv, None, 1 << 20).await;
    srv.declare(&alice.access, &short.declared).await;
    let r = srv.upload(&alice.access, &short.id, short.envelope[..11 * 1024 * 1024].to_vec()).await;
    assert_eq!(r.status(), 422);
    let listing =
        reqwest::get(format!("{endpoint}/cipherfold-test?list-type=2&prefix=tenant-a/datasets/")).await.unwrap().text().await.unwrap();
    assert!(!listing.contains(&short.id), "{listing}");
    let uploads = reqwest::get(format!("{endpoint}/cipherfold-test?uploads")).await.unwrap().text().await.unwrap();
    assert!(!uploads.contains(&short.id), "the multipart upload was aborted: {uploads}");

    let r = common::client().delete(srv.url(&format!("/api/datasets/{}", s.id))).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let listing =
        reqwest::get(format!("{endpoint}/cipherfold-test?list-type=2&prefix=tenant-a/datasets/")).await.unwrap().text().await.unwrap();
    assert!(!listing.contains(&s.id), "{listing}");
    srv.stop().await;
}
