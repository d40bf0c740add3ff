//! Encrypted datasets end to end over HTTP: declare, stream the ciphertext, list, download,
//! open as the owner and as the trainer, delete; and every way an upload can go wrong.

use std::time::Duration;

use crate::common::sealed::PASSPHRASE;
use crate::common::{client, walk, TestServer};
use app::crypto::envelope::{open, MIN_CHUNK_SIZE};
use app::crypto::passphrase::open_secret;
use app::crypto::{dataset_id_bytes, wrap, KeyPair};
use app::model::dataset::{DatasetInfo, DatasetStatus, OwnerKey};
use app::table::{Format, ParseOptions, Table};
use object_store::ObjectStoreExt;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../app/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[tokio::test]
async fn upload_list_download_open_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let owner = srv.owner_key(&alice.access).await;
    let iris = data("iris.csv");
    // Small chunks, so the 3.8 KB file spans several and the stream order matters.
    let s = srv.seal(&iris, Format::Csv, Some(&owner), MIN_CHUNK_SIZE).await;

    let r = srv.declare(&alice.access, &s.declared).await;
    assert_eq!(r.status(), 201);
    let info: DatasetInfo = r.json().await.unwrap();
    assert_eq!(info.status, DatasetStatus::Pending);
    assert_eq!(info.ciphertext_size, s.envelope.len() as u64);
    // Not listed until the ciphertext is complete.
    let list: Vec<DatasetInfo> = srv.get_as(&alice.access, "/api/datasets").await.json().await.unwrap();
    assert!(list.is_empty());

    let r = srv.upload(&alice.access, &s.id, s.envelope.clone()).await;
    assert_eq!(r.status(), 200);
    let list: Vec<DatasetInfo> = srv.get_as(&alice.access, "/api/datasets").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].status, list[0].rows, list[0].owner.as_str()), (DatasetStatus::Ready, 150, "alice"));

    // The owner downloads the ciphertext and opens it with the key only their passphrase unlocks.
    let r = srv.get_as(&alice.access, &format!("/api/datasets/{}/blob", s.id)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], s.envelope.len().to_string().as_str());
    let blob = r.bytes().await.unwrap();
    assert_eq!(blob.as_ref(), s.envelope.as_slice());
    let stored_key: OwnerKey = srv.get_as(&alice.access, "/api/keys/me").await.json().await.unwrap();
    let secret = open_secret(&stored_key.sealed_secret, PASSPHRASE, owner.public()).unwrap();
    let pair = KeyPair::from_secret(&secret).unwrap();
    let id = dataset_id_bytes(&s.id).unwrap();
    let data_key = wrap::unwrap(list[0].owner_wrapped_key.as_ref().unwrap(), &pair, &id).unwrap();
    assert_eq!(open(&data_key, &id, &blob).unwrap().as_slice(), iris.as_slice());

    // The trainer's private key is the data directory's secret: owner-only, like the token key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(server::backend::keys::TRAINER_KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The trainer opens it too, and the table is the one the browser declared.
    let table = srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap();
    assert_eq!(table, Table::parse(&iris, Format::Csv, &ParseOptions::default()).unwrap());
    let audit = srv.backend.audit.list(&Default::default()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "dataset.open" && e.target == s.id && e.outcome.starts_with("ok")));

    // Deleting removes the metadata and the ciphertext.
    let object = dir.path().join("objects/datasets").join(&s.id);
    assert!(object.exists());
    let r = client().delete(srv.url(&format!("/api/datasets/{}", s.id))).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(!object.exists());
    assert_eq!(srv.get_as(&alice.access, &format!("/api/datasets/{}", s.id)).await.status(), 404);
    srv.stop().await;
}

#[tokio::test]
async fn bad_uploads_never_become_ready_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let diabetes = data("diabetes.csv");
    let objects = dir.path().join("objects");

    let check_gone = |id: String, why: &'static str| {
        let srv = &srv;
        let token = alice.access.clone();
        let objects = objects.clone();
        async move {
            assert_eq!(srv.get_as(&token, &format!("/api/datasets/{id}")).await.status(), 404, "{why}: record removed");
            assert!(walk(&objects).iter().all(|p| !p.to_string_lossy().contains(&id)), "{why}: no object left");
        }
    };

    // Longer than declared, shorter than declared, and a different header.
    let s = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.declare(&alice.access, &s.declared).await;
    let mut long = s.envelope.clone();
    long.extend_from_slice(&[0; 100]);
    let r = srv.upload(&alice.access, &s.id, long).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("longer than"));
    check_gone(s.id.clone(), "too long").await;

    let s = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.declare(&alice.access, &s.declared).await;
    let r = srv.upload(&alice.access, &s.id, s.envelope[..s.envelope.len() - 1].to_vec()).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("ended after"));
    check_gone(s.id.clone(), "too short").await;

    let s = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.declare(&alice.access, &s.declared).await;
    let mut other = s.envelope.clone();
    other[33] ^= 1; // the nonce prefix
    let r = srv.upload(&alice.access, &s.id, other).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("envelope header"));
    check_gone(s.id.clone(), "wrong header").await;

    // A client that dies mid-upload: 16 KiB of a declared length arrive, then the socket closes.
    let s = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.declare(&alice.access, &s.declared).await;
    {
        use tokio::io::AsyncWriteExt;
        let mut sock = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let head = format!(
            "PUT /api/datasets/{}/blob HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
            s.id,
            alice.access,
            s.envelope.len()
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&s.envelope[..16 * 1024]).await.unwrap();
        sock.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The server notices the broken connection on its side; give it a moment.
    let mut gone = false;
    for _ in 0..50 {
        if srv.get_as(&alice.access, &format!("/api/datasets/{}", s.id)).await.status() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "an interrupted upload is removed");
    check_gone(s.id.clone(), "interrupted").await;

    // A second upload of a ready dataset is refused and does not disturb it.
    let s = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.store_dataset(&alice.access, &s).await;
    let r = srv.upload(&alice.access, &s.id, s.envelope.clone()).await;
    assert_eq!(r.status(), 409);
    assert!(srv.backend.datasets.open_for_training(&s.id, "test").await.is_ok());

    // Declarations that cannot be right are refused before any upload.
    let mut bad = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await.declared;
    bad.target = Some("no such column".into());
    bad.subdomain = "cardiology".into();
    let r = srv.declare(&alice.access, &bad).await;
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["fields"]["target"].as_str().unwrap().contains("no such column"), "{v}");
    let mut foreign = srv.seal(&diabetes, Format::Csv, None, MIN_CHUNK_SIZE).await.declared;
    foreign.wrapped_keys[0].key_id = "0000000000000000".into();
    let r = srv.declare(&alice.access, &foreign).await;
    assert_eq!(r.status(), 422);
    srv.stop().await;
}

#[tokio::test]
async fn the_size_limit_answers_413_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.max_dataset_bytes = 10_000;
    let srv = TestServer::start(config).await;
    let alice = srv.user("alice").await;
    let s = srv.seal(&data("diabetes.csv"), Format::Csv, None, MIN_CHUNK_SIZE).await;
    let r = srv.declare(&alice.access, &s.declared).await;
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["message"], "the file is 25.1 KiB and this server accepts datasets up to 9.8 KiB; split it, or ask an administrator to raise --max-dataset-bytes");
    srv.stop().await;
}

#[tokio::test]
async fn a_changed_ciphertext_fails_to_open_and_the_failure_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let s = srv.seal(&data("iris.json"), Format::Json, None, MIN_CHUNK_SIZE).await;
    srv.store_dataset(&alice.access, &s).await;
    // Somebody with access to the bucket flips one bit of chunk 3.
    let path = server::backend::datasets::blob_path(&s.id);
    let mut bytes = s.envelope.clone();
    bytes[40 + 3 * (1024 + 16) + 7] ^= 0x20;
    srv.backend.store.put(&path, bytes.into()).await.unwrap();
    let err = srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap_err();
    assert!(err.to_string().contains("chunk 3 failed authentication"), "{err}");
    let audit = srv.backend.audit.list(&Default::default()).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "dataset.open" && e.outcome.starts_with("failed")));
    srv.stop().await;
}

/// A CSV over the trainer's parsing window (8 MiB) is parsed as it is decrypted, and gives the
/// table the whole file gives; a chunk changed or cut off past the first window still fails
/// the open, in the envelope's words, whatever the parser made of the bytes before it.
#[tokio::test]
async fn a_large_csv_opens_as_it_decrypts_and_a_late_change_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let mut csv = String::from("n,x,code,label\n");
    let mut i = 0u64;
    while csv.len() < 10 * 1024 * 1024 {
        csv.push_str(&format!("{i},{}.25,{:03},{}\n", i % 1000, i % 17, if i.is_multiple_of(3) { "yes" } else { "no" }));
        i += 1;
    }
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, 1 << 20).await;
    srv.store_dataset(&alice.access, &s).await;
    let whole = Table::parse_declared(csv.as_bytes(), Format::Csv, &s.declared.parse_options, &s.declared.schema).unwrap();
    let opened = srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap();
    assert_eq!((opened.len() as u64, &opened), (i, &whole));

    let path = server::backend::datasets::blob_path(&s.id);
    let chunk = |n: usize| 40 + n * ((1 << 20) + 16);
    let mut changed = s.envelope.clone();
    changed[chunk(9) + 100] ^= 1;
    srv.backend.store.put(&path, changed.into()).await.unwrap();
    let err = srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap_err();
    assert!(err.to_string().contains("chunk 9 failed authentication"), "{err}");
    // Cut after chunk 8: the parser saw well-formed rows up to there; the open still fails.
    srv.backend.store.put(&path, s.envelope[..chunk(9)].to_vec().into()).await.unwrap();
    let err = srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap_err();
    assert!(err.to_string().contains("chunk 8 failed authentication"), "{err}");
    srv.stop().await;
}

#[tokio::test]
async fn shared_datasets_are_listed_in_their_area_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await; // healthcare / oncology too
    let r = srv.register("carol", "finance", "trading").await;
    assert_eq!(r.status(), 201);
    let carol: serde_json::Value = srv.login("carol", "correct horse battery").await.json().await.unwrap();
    let carol = carol["access_token"].as_str().unwrap().to_owned();
    let mut shared = srv.seal(&data("iris.csv"), Format::Csv, None, MIN_CHUNK_SIZE).await;
    shared.declared.shared = true;
    shared.declared.name = "shared iris".into();
    srv.store_dataset(&alice.access, &shared).await;
    let private = srv.seal(&data("iris.csv"), Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.store_dataset(&alice.access, &private).await;

    let names = |v: Vec<DatasetInfo>| v.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let alice_sees = names(srv.get_as(&alice.access, "/api/datasets").await.json().await.unwrap());
    assert_eq!(alice_sees.len(), 2);
    let bob_sees: Vec<DatasetInfo> = srv.get_as(&bob.access, "/api/datasets").await.json().await.unwrap();
    assert_eq!(names(bob_sees.clone()), vec![shared.id.clone()]);
    assert!(bob_sees[0].owner_wrapped_key.is_none(), "nobody else gets the owner's wrapped key");
    assert!(names(srv.get_as(&carol, "/api/datasets").await.json().await.unwrap()).is_empty());
    srv.stop().await;
}

/// The test the issue asks for: after uploads, no plaintext row is anywhere in the data
/// directory (SurrealKV files, object store, keys), nor any category value.
#[tokio::test]
async fn no_plaintext_row_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.database = server::config::DatabaseUrl::SurrealKv(dir.path().join("db"));
    let srv = TestServer::start(config).await;
    let alice = srv.user("alice").await;
    let owner = srv.owner_key(&alice.access).await;
    for (name, format) in
        [("iris.csv", Format::Csv), ("iris.json", Format::Json), ("iris.xlsx", Format::Xlsx), ("diabetes.csv", Format::Csv)]
    {
        let s = srv.seal(&data(name), format, Some(&owner), 1 << 20).await;
        srv.store_dataset(&alice.access, &s).await;
        srv.backend.datasets.open_for_training(&s.id, "test").await.unwrap();
    }
    srv.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let needles: [&[u8]; 5] = [b"5.1,3.5,1.4,0.2,setosa", b"setosa", b"versicolor", b"59.0,2.0,32.1,101.0", b"4.8598"];
    let files = walk(dir.path());
    assert!(files.iter().any(|p| p.to_string_lossy().contains("/db/")), "the database files are there to search");
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        for n in needles {
            assert!(!bytes.windows(n.len()).any(|w| w == n), "{} contains {:?}", f.display(), String::from_utf8_lossy(n));
        }
    }
}

/// A declaration whose upload never came (the browser closed, the server restarted) is swept;
/// ready datasets are not.
#[tokio::test]
async fn the_sweeper_removes_abandoned_declarations_only() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let abandoned = srv.seal(&data("iris.csv"), Format::Csv, None, MIN_CHUNK_SIZE).await;
    assert_eq!(srv.declare(&alice.access, &abandoned.declared).await.status(), 201);
    let kept = srv.seal(&data("iris.csv"), Format::Csv, None, MIN_CHUNK_SIZE).await;
    srv.store_dataset(&alice.access, &kept).await;
    // Young declarations survive a sweep with the real limits.
    let limits = (server::backend::datasets::STALE_PENDING_SECS, server::backend::datasets::STALE_UPLOADING_SECS);
    assert_eq!(srv.backend.datasets.sweep_stale(limits.0, limits.1).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(srv.backend.datasets.sweep_stale(0, 0).await.unwrap(), 1);
    assert_eq!(srv.get_as(&alice.access, &format!("/api/datasets/{}", abandoned.id)).await.status(), 404);
    assert_eq!(srv.get_as(&alice.access, &format!("/api/datasets/{}", kept.id)).await.status(), 200);
    // Its upload, should it arrive after all, finds nothing to complete.
    assert_eq!(srv.upload(&alice.access, &abandoned.id, abandoned.envelope.clone()).await.status(), 404);
    srv.stop().await;
}

/// Deleting a dataset while its upload is still arriving, then the client going away, leaves
/// nothing: no record, no object, no staging file; and while it arrives a second upload is
/// refused with the status saying why.
#[tokio::test]
async fn deleting_during_an_upload_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let objects = dir.path().join("objects");
    let mut csv = String::from("a,b,label\n");
    for i in 0..200_000u64 {
        csv.push_str(&format!("{i},{},{}\n", i % 7, i % 2));
    }
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
    assert_eq!(srv.declare(&alice.access, &s.declared).await.status(), 201);
    let upload = srv.stalled_upload(&alice.access, &s.id, &s.envelope[..s.envelope.len() / 2]);
    let path = format!("/api/datasets/{}", s.id);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d: DatasetInfo = srv.get_as(&alice.access, &path).await.json().await.unwrap();
        if d.status == DatasetStatus::Uploading && walk(&objects).iter().any(|p| p.to_string_lossy().contains(&s.id)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = srv.upload(&alice.access, &s.id, s.envelope.clone()).await;
    assert_eq!(again.status(), 409, "a second upload meanwhile");
    let r = client().delete(srv.url(&path)).bearer_auth(&alice.access).send().await.unwrap();
    assert_eq!(r.status(), 204);
    upload.abort();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while walk(&objects).iter().any(|p| p.to_string_lossy().contains(&s.id)) {
        assert!(std::time::Instant::now() < deadline, "left behind: {:?}", walk(&objects));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(srv.get_as(&alice.access, &path).await.status(), 404);
    srv.stop().await;
}
