//! Encrypted prediction end to end over loopback, native: a real server (in this process, on
//! 127.0.0.1) and the client code the CLI runs, for iris's logistic model (4 features, 3
//! classes) and diabetes's linear model (10 features), each trained by the server on its
//! dataset. 1,000 single-row predictions one after another: the client's quantising and
//! encryption, the request (upload, the server's checks and evaluation, the answer), the
//! decryption, and the whole; p50 and p95. The baseline, measured in the same run: 1,000
//! plaintext predictions of the same rows through `POST /api/models/{id}/predict`. Then one
//! request of 10,000 rows. (`cargo bench -p app --features he --bench he` has the compute
//! alone; `scripts/bench-he.sh` runs this and the same in Chromium.)
//!
//! `cargo bench -p server --bench he_loopback`

#[path = "../tests/api/common/mod.rs"]
mod common;

use std::time::Instant;

use app::he::lwe::ClientKey;
use app::he::HeOffer;
use app::table::Format;
use serde_json::{json, Map, Value};

use common::{client, ms, percentile, TestServer};

async fn bench(srv: &TestServer, token: &str, file: &str, target: &str, kind: &str) {
    let bytes = std::fs::read(format!("{}/../app/tests/data/{file}", env!("CARGO_MANIFEST_DIR"))).expect("the dataset");
    let sealed = srv.seal(&bytes, Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
    srv.store_dataset(token, &sealed).await;
    let job = srv.remote.train(token, json!({"dataset_ids": [sealed.id], "target": target, "model": {"kind": kind}})).await;
    let model = job.model_id.expect("a model");
    let offer: HeOffer = srv.get_as(token, &format!("/api/models/{model}/he")).await.json().await.expect("the offer");
    let rows: Vec<Map<String, Value>> = app::table::file::rows_for_prediction(&bytes, file, usize::MAX).expect("rows");
    let key = ClientKey::generate().expect("a key");
    let http = client();
    let url = srv.url(&format!("/api/models/{model}/predict-encrypted"));
    let plain_url = srv.url(&format!("/api/models/{model}/predict"));
    let (mut enc, mut net, mut dec, mut total, mut plain) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut up, mut down) = (0, 0);
    for i in 0..1000 {
        let row = std::slice::from_ref(&rows[i % rows.len()]);
        let start = Instant::now();
        let (q, _) = offer.quantise_rows(row).expect("a row");
        let body = key.request(&offer, &q).expect("encryption");
        enc.push(ms(start));
        up = body.len();
        let t = Instant::now();
        let r =
            http.post(&url).bearer_auth(token).header("content-type", "application/octet-stream").body(body).send().await.expect("sent");
        assert_eq!(r.status(), 200);
        let answer = r.bytes().await.expect("the answer");
        net.push(ms(t));
        down = answer.len();
        let t = Instant::now();
        let p = key.predictions(&offer, &answer).expect("decryption");
        dec.push(ms(t));
        total.push(ms(start));
        assert_eq!(p.len(), 1);

        let t = Instant::now();
        let r = http.post(&plain_url).bearer_auth(token).json(&json!({"rows": row})).send().await.expect("sent");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("the answer");
        plain.push(ms(t));
    }
    let base = percentile(&plain, 0.5);
    println!(
        "{file} {kind}: {} encoded features, {} outputs; {up} bytes up, {down} bytes down per prediction",
        offer.features, offer.outputs
    );
    for (what, v) in [("encrypt (client)", &enc), ("request (loopback)", &net), ("decrypt (client)", &dec), ("end to end", &total)] {
        let (a, b) = (percentile(v, 0.5), percentile(v, 0.95));
        println!("  {what:<19} p50 {a:>8.3} ms   p95 {b:>8.3} ms   {:>6.2}× plaintext", a / base);
    }
    println!("  plaintext prediction p50 {base:>6.3} ms   p95 {:>6.3} ms (the baseline, same server)", percentile(&plain, 0.95));

    let batch: Vec<Map<String, Value>> = (0..10_000).map(|i| rows[i % rows.len()].clone()).collect();
    let start = Instant::now();
    let (q, _) = offer.quantise_rows(&batch).expect("rows");
    let body = key.request(&offer, &q).expect("encryption");
    let e = ms(start);
    let t = Instant::now();
    let r = http
        .post(&url)
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let answer = r.bytes().await.expect("the answer");
    let n = ms(t);
    let t = Instant::now();
    let p = key.predictions(&offer, &answer).expect("decryption");
    assert_eq!(p.len(), 10_000);
    let d = ms(t);
    let t = Instant::now();
    let r = http.post(&plain_url).bearer_auth(token).json(&json!({"rows": batch})).send().await.expect("sent");
    assert_eq!(r.status(), 200);
    r.bytes().await.expect("the answer");
    let plain_batch = ms(t);
    println!(
        "  10,000 rows in one request: encrypt {:.2} s, request {:.2} s, decrypt {:.2} s, total {:.2} s ({:.2} MB up, {:.0} MB down); plaintext {:.2} s ({:.1}×)",
        e / 1e3,
        n / 1e3,
        d / 1e3,
        (e + n + d) / 1e3,
        body.len() as f64 / 1e6,
        answer.len() as f64 / 1e6,
        plain_batch / 1e3,
        (e + n + d) / plain_batch
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("a directory");
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    bench(&srv, &alice.access, "iris.csv", "species", "logistic").await;
    bench(&srv, &alice.access, "diabetes.csv", "progression", "linear").await;
    srv.stop().await;
}
