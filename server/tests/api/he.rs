//! Encrypted prediction over HTTP (docs/he.md) with a real server: the offer, a request the
//! server cannot read, answers that decrypt to exactly the quantised model's scores, the same
//! labels as plaintext prediction, refusals by part, and `cipherfold he predict` as a process.

use serde_json::{json, Value};

use app::he::lwe::{ClientKey, CIPHERTEXT_WORDS};
use app::he::quant::{fitted, QuantModel};
use app::he::wire::{Answer, Form, Request, Row};
use app::he::HeOffer;
use app::table::{Format, ParseOptions, Table};

use crate::common::{client, TestServer};
use crate::process::cipherfold;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../app/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn dataset(srv: &TestServer, token: &str, name: &str) -> String {
    let s = srv.seal(&data(name), Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
    srv.store_dataset(token, &s).await;
    s.id
}

/// A model of `kind` the server trained on the data file `name` to predict `target`: its id.
async fn trained(srv: &TestServer, token: &str, name: &str, target: &str, kind: &str) -> String {
    let ds = dataset(srv, token, name).await;
    srv.remote.train(token, json!({"dataset_ids": [ds], "target": target, "model": {"kind": kind}})).await.model_id.unwrap()
}

async fn post_bytes(srv: &TestServer, token: &str, path: &str, body: Vec<u8>) -> reqwest::Response {
    client().post(srv.url(path)).bearer_auth(token).header("content-type", "application/octet-stream").body(body).send().await.unwrap()
}

/// iris's rows as prediction requests take them.
fn iris_rows() -> Vec<serde_json::Map<String, Value>> {
    app::table::file::rows_for_prediction(&data("iris.csv"), "iris.csv", usize::MAX).unwrap()
}

/// The plaintext predictions of `rows`, to compare with.
async fn plain_predictions(srv: &TestServer, token: &str, model: &str, rows: &[serde_json::Map<String, Value>]) -> Vec<Value> {
    let r = client()
        .post(srv.url(&format!("/api/models/{model}/predict")))
        .bearer_auth(token)
        .json(&json!({"rows": rows}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    v["predictions"].as_array().unwrap().clone()
}

fn field(v: &Value) -> String {
    v["fields"].as_object().map(|f| f.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default()
}

#[tokio::test]
async fn a_logistic_model_predicts_iris_on_rows_the_server_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let model_id = trained(&srv, &alice.access, "iris.csv", "species", "logistic").await;

    // The offer: parameters, quantisation, budget, and the quantised model's score beside the float one.
    let offer: HeOffer = srv.get_as(&alice.access, &format!("/api/models/{model_id}/he")).await.json().await.unwrap();
    assert_eq!((offer.lwe_dimension, offer.noise_bound_log2, offer.message_bits, offer.features, offer.outputs), (2048, 17, 32, 4, 3));
    assert!(offer.weight_sum < offer.max_weight_sum, "{offer:?}");
    assert_eq!(offer.upload_bytes_per_row, 16 + 4 * 8);
    let q = offer.quality.clone().expect("the trainer measured the quantised model");
    assert_eq!((q.metric.as_str(), q.rows), ("accuracy", 150));
    assert!((q.float - q.quantised).abs() <= 0.01, "{q:?}");

    // Encrypt every row (seeded: 48 bytes a row), predict, decrypt.
    let key = ClientKey::generate().unwrap();
    let rows = iris_rows();
    let (quantised, clipped) = offer.quantise_rows(&rows).unwrap();
    assert_eq!(clipped, 0);
    let id: [u8; 16] = hex::decode(&model_id).unwrap().try_into().unwrap();
    let body = key.request(&offer, &quantised).unwrap();
    assert_eq!(body.len(), 48 + 150 * 48);
    // What the server receives holds none of the encoded values, in any 8-byte word.
    let words: std::collections::HashSet<u64> = body[48..].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
    for x in quantised.iter().flatten() {
        assert!(!words.contains(&(*x as u64)) && !words.contains(&((*x as u64).wrapping_mul(1 << 32))), "{x} travelled in the clear");
    }
    let r = post_bytes(&srv, &alice.access, &format!("/api/models/{model_id}/predict-encrypted"), body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let answer = Answer::decode(&r.bytes().await.unwrap()).unwrap();
    assert_eq!((answer.outputs, answer.ciphertexts.len()), (3, 450));
    // The decrypted scores are exactly the quantised model's, evaluated here in the clear.
    let artifact: app::model::artifact::ModelArtifact =
        srv.get_as(&alice.access, &format!("/api/models/{model_id}/artifact")).await.json().await.unwrap();
    let model = QuantModel::new(fitted(&artifact.model).unwrap(), 4, offer.spec).unwrap();
    let mut labels = vec![];
    for (x, cts) in quantised.iter().zip(answer.ciphertexts.chunks(3)) {
        let scores: Vec<i64> = cts.iter().map(|c| key.decrypt(c).unwrap()).collect();
        assert_eq!(scores, model.scores(x));
        labels.push(offer.prediction(&scores).label.unwrap());
    }
    // The same labels as plaintext prediction, but for rows on a class boundary.
    let plain = plain_predictions(&srv, &alice.access, &model_id, &rows).await;
    let same = labels.iter().zip(&plain).filter(|(a, p)| p["label"] == a.as_str()).count();
    assert!(same >= 148, "{same} of 150 encrypted predictions match the plaintext ones");
    // Full ciphertexts (what a client without tfhe sends) give the same scores.
    let full = Request {
        form: Form::Full,
        model_id: id,
        spec: offer.spec,
        features: 4,
        rows: vec![Row::Full(key.encrypt_full(&quantised[0]).unwrap())],
    };
    let r = post_bytes(&srv, &alice.access, &format!("/api/models/{model_id}/predict-encrypted"), full.encode()).await;
    let answer = Answer::decode(&r.bytes().await.unwrap()).unwrap();
    let scores: Vec<i64> = answer.ciphertexts.iter().map(|c| key.decrypt(c).unwrap()).collect();
    assert_eq!(scores, model.scores(&quantised[0]));
    assert_eq!(answer.ciphertexts[0].len(), CIPHERTEXT_WORDS);

    // The audit log has the count, not the body (alice registered first: she is the admin).
    let audit: Vec<Value> = srv.get_as(&alice.access, "/api/audit?action=model.predict_encrypted").await.json().await.unwrap();
    assert!(audit.iter().any(|e| e["outcome"] == "ok (150 rows)"), "{audit:?}");
    srv.stop().await;
}

#[tokio::test]
async fn bad_requests_are_refused_by_part() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let ds = dataset(&srv, &alice.access, "iris.csv").await;
    let logistic = srv.remote.train(&alice.access, json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "logistic"}})).await;
    let forest = srv
        .remote
        .train(&alice.access, json!({"dataset_ids": [ds], "target": "species", "model": {"kind": "forest", "params": {"trees": 5}}}))
        .await;
    let (model_id, forest_id) = (logistic.model_id.unwrap(), forest.model_id.unwrap());
    let offer: HeOffer = srv.get_as(&alice.access, &format!("/api/models/{model_id}/he")).await.json().await.unwrap();
    let key = ClientKey::generate().unwrap();
    let (quantised, _) = offer.quantise_rows(&iris_rows()[..2]).unwrap();
    let id: [u8; 16] = hex::decode(&model_id).unwrap().try_into().unwrap();
    let rows: Vec<Row> =
        quantised.iter().map(|x| key.encrypt(x).map(|r| Row::Seeded { seed: r.seed, bodies: r.bodies }).unwrap()).collect();
    let good = Request { form: Form::Seeded, model_id: id, spec: offer.spec, features: 4, rows };
    let path = format!("/api/models/{model_id}/predict-encrypted");
    let refused = |status: u16, body: Vec<u8>, part: &'static str| {
        let (srv, token, path) = (&srv, alice.access.clone(), path.clone());
        async move {
            let r = post_bytes(srv, &token, &path, body).await;
            assert_eq!(r.status(), status);
            let v: Value = r.json().await.unwrap();
            assert_eq!(field(&v), part, "{v}");
        }
    };
    let body = good.encode();
    refused(422, body[..body.len() - 3].to_vec(), "body").await;
    refused(422, [body.clone(), vec![0; 8]].concat(), "body").await;
    refused(422, body[..20].to_vec(), "header").await;
    let mut bad = body.clone();
    bad[5] = 2;
    refused(422, bad, "parameter_set").await;
    let other = Request { model_id: [7; 16], ..good.clone() };
    refused(422, other.encode(), "model_id").await;
    let requant = Request { spec: app::he::quant::QuantSpec { input_bits: 6, ..offer.spec }, ..good.clone() };
    refused(422, requant.encode(), "quantisation").await;
    let narrow = Request { features: 3, rows: vec![Row::Seeded { seed: 1, bodies: vec![0; 3] }], ..good.clone() };
    refused(422, narrow.encode(), "features").await;
    // A forest has no encrypted prediction: its offer and its route say why.
    let r = srv.get_as(&alice.access, &format!("/api/models/{forest_id}/he")).await;
    assert_eq!(r.status(), 422);
    assert_eq!(field(&r.json().await.unwrap()), "model.kind");
    let r = post_bytes(&srv, &alice.access, &format!("/api/models/{forest_id}/predict-encrypted"), body.clone()).await;
    assert_eq!(r.status(), 422);
    // An unknown model, and a body over the limit.
    assert_eq!(post_bytes(&srv, &alice.access, "/api/models/00000000000000000000000000000000/predict-encrypted", body).await.status(), 404);
    let r = post_bytes(&srv, &alice.access, &path, vec![0; (64 << 20) + 1]).await;
    assert_eq!(r.status(), 413);
    srv.stop().await;
}

/// `cipherfold he predict` against a diabetes linear model: the CSV it prints has every row's
/// prediction within rounding of the plaintext one, and the key file it made is its user's alone.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_predicts_a_file_it_encrypted_and_keeps_its_key_private() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let model_id = trained(&srv, &alice.access, "diabetes.csv", "progression", "linear").await;
    let input = format!("{}/../app/tests/data/diabetes.csv", env!("CARGO_MANIFEST_DIR"));
    let key = dir.path().join("he.key");
    let server = srv.url("");
    let (model, input_path, key_path) = (model_id.clone(), input.clone(), key.clone());
    let token = alice.access.clone();
    let out = tokio::task::spawn_blocking(move || {
        cipherfold()
            .args(["he", "predict", "--server", &server, "--model", &model, "--input", &input_path, "--batch", "200", "--token", &token])
            .arg("--key")
            .arg(&key_path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    println!("cipherfold he predict: {}", stderr.trim());
    assert!(stderr.contains("442 rows, encrypted under your key") && stderr.contains("upload 96 bytes/row"), "{stderr}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let printed = Table::parse(&out.stdout, Format::Csv, &ParseOptions::default()).unwrap();
    let at = printed.column_index("prediction").unwrap();
    let rows: Vec<serde_json::Map<String, Value>> =
        app::table::file::rows_for_prediction(&data("diabetes.csv"), "d.csv", usize::MAX).unwrap();
    let plain = plain_predictions(&srv, &alice.access, &model_id, &rows).await;
    assert_eq!(printed.len(), 442);
    // 8-bit inputs move a prediction by a few units at most (progression spans 25 to 346);
    // the fit is the plaintext model's to 0.01 of R².
    let encrypted: Vec<f64> = printed.rows().map(|r| r[at].as_f64().unwrap()).collect();
    let plain: Vec<f64> = plain.iter().map(|p| p["value"].as_f64().unwrap()).collect();
    let worst = encrypted.iter().zip(&plain).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 8.0, "the encrypted predictions are within {worst} of the plaintext ones");
    let truth: Vec<f64> = rows.iter().map(|r| r["progression"].as_f64().unwrap()).collect();
    let r2 = |p: &[f64]| app::ml::metrics::regression(&truth, p).unwrap().r2;
    assert!((r2(&encrypted) - r2(&plain)).abs() < 0.01, "R² {} encrypted, {} plaintext", r2(&encrypted), r2(&plain));
    // A second run reuses the key.
    let server = srv.url("");
    let token = alice.access.clone();
    let again = tokio::task::spawn_blocking(move || {
        cipherfold()
            .args(["he", "predict", "--server", &server, "--model", &model_id, "--input", &input, "--token", &token])
            .arg("--key")
            .arg(&key)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(again.status.success() && !String::from_utf8_lossy(&again.stderr).contains("made a new key"));
    srv.stop().await;
}

/// Runs the independent client (`tests/independent/he_client.py`, written from docs/he.md
/// with numpy and `cryptography`, no tfhe), returning its JSON.
fn he_client(args: &[&str]) -> Value {
    let out = std::process::Command::new(crate::independent::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/he_client.py"))
        .args(args)
        .output()
        .expect("python runs (set CIPHERFOLD_PYTHON or pip install numpy cryptography)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "he_client.py {:?} failed:\n{stdout}\n{}", args.first(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap()
}

fn ints(v: &Value) -> Vec<Vec<i64>> {
    serde_json::from_value(v.clone()).unwrap()
}

/// docs/he.md is enough to write a client: the independent one quantises 40 diabetes rows as
/// the server's offer says, encrypts them under its own key as seeded rows (AES-CTR masks)
/// and as full ciphertexts, and decrypts the server's answers to exactly the quantised
/// model's scores. The other way round, it decrypts a request and an answer our client made
/// (the code the CLI and the browser's worker run) from the key's 256 bytes alone.
#[tokio::test(flavor = "multi_thread")]
async fn an_independent_client_written_from_the_spec_predicts_and_reads_our_ciphertexts() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let model_id = trained(&srv, &alice.access, "diabetes.csv", "progression", "linear").await;
    let offer: HeOffer = srv.get_as(&alice.access, &format!("/api/models/{model_id}/he")).await.json().await.unwrap();
    let artifact: app::model::artifact::ModelArtifact =
        srv.get_as(&alice.access, &format!("/api/models/{model_id}/artifact")).await.json().await.unwrap();
    let quant = QuantModel::new(fitted(&artifact.model).unwrap(), offer.features, offer.spec).unwrap();
    let text = String::from_utf8(data("diabetes.csv")).unwrap();
    let head: String = text.lines().take(41).map(|l| format!("{l}\n")).collect();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, &head).unwrap();
    let rows = app::table::file::rows_for_prediction(head.as_bytes(), "rows.csv", usize::MAX).unwrap();
    let (quantised, _) = offer.quantise_rows(&rows).unwrap();

    let (url, token, model, path) = (srv.url(""), alice.access.clone(), model_id.clone(), csv.to_str().unwrap().to_owned());
    let theirs = tokio::task::spawn_blocking(move || he_client(&["predict", &url, &token, &model, &path])).await.unwrap();
    assert_eq!(ints(&theirs["quantised"]), quantised, "the spec's quantisation is the offer's");
    let expected: Vec<Vec<i64>> = quantised.iter().map(|x| quant.scores(x)).collect();
    assert_eq!(ints(&theirs["seeded"]), expected);
    assert_eq!(ints(&theirs["full"]), expected);
    assert_eq!(theirs["upload_seeded"], 48 + 40 * 96);
    assert_eq!(theirs["upload_full"], 48 + 40 * 10 * 2049 * 8);

    let key = ClientKey::generate().unwrap();
    let body = key.request(&offer, &quantised[..5]).unwrap();
    let answer = post_bytes(&srv, &alice.access, &format!("/api/models/{model_id}/predict-encrypted"), body.clone()).await;
    assert_eq!(answer.status(), 200);
    let (key_file, request_file, answer_file) = (dir.path().join("k"), dir.path().join("request"), dir.path().join("answer"));
    std::fs::write(&key_file, key.to_bytes()).unwrap();
    std::fs::write(&request_file, &body).unwrap();
    std::fs::write(&answer_file, answer.bytes().await.unwrap()).unwrap();
    let read = he_client(&["decrypt", key_file.to_str().unwrap(), request_file.to_str().unwrap(), answer_file.to_str().unwrap()]);
    assert_eq!(ints(&read["inputs"]), quantised[..5]);
    assert_eq!(ints(&read["scores"]), expected[..5]);
    srv.stop().await;
}
