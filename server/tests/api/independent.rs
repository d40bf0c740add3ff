//! Checks by independent implementations (Python's PyJWT), so our formats are not only
//! consistent with themselves. scripts/test.sh provides CIPHERFOLD_PYTHON, a Python with the
//! checkers installed; elsewhere `python3` must have them.

use crate::common;
use std::process::Command;

use crate::common::TestServer;

pub fn python() -> String {
    std::env::var("CIPHERFOLD_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[tokio::test]
async fn pyjwt_verifies_an_access_token_the_server_issued() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let u = srv.user("alice").await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/jwt_check.py");
    let key = dir.path().join("keys/jwt-hs256.hex");
    let out = Command::new(python())
        .args([script, &u.access])
        .arg(&key)
        .args([&u.id, "admin"])
        .output()
        .expect("python runs (set CIPHERFOLD_PYTHON or install python3 with PyJWT: pip install pyjwt)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "PyJWT check failed:\n{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["ttl"], 900);
    srv.stop().await;
}

fn envelope_script() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/envelope.py")
}

fn run_python(args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(envelope_script())
        .args(args)
        .output()
        .expect("python runs (set CIPHERFOLD_PYTHON or pip install cryptography)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "envelope.py {args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Rust seals (the code the browser runs), Python opens by docs/envelope.md alone.
#[tokio::test]
async fn python_opens_an_envelope_rust_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let plain = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/diabetes.csv")).unwrap();
    let s = srv.seal(&plain, app::table::Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &s).await;
    let env_path = dir.path().join("envelope.bin");
    std::fs::write(&env_path, &s.envelope).unwrap();
    let wrapped_path = dir.path().join("wrapped.json");
    std::fs::write(&wrapped_path, serde_json::to_vec(&s.declared.wrapped_keys[0]).unwrap()).unwrap();
    let secret = std::fs::read_to_string(dir.path().join(server::backend::keys::TRAINER_KEY_FILE)).unwrap();
    let out_path = dir.path().join("opened.csv");
    run_python(&[
        "open",
        "--secret",
        secret.trim(),
        "--wrapped",
        wrapped_path.to_str().unwrap(),
        "--id",
        &s.id,
        "--envelope",
        env_path.to_str().unwrap(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&out_path).unwrap(), plain);
    srv.stop().await;
}

/// Python seals by docs/envelope.md, uploads through the API, and the trainer's `open` reads it.
#[tokio::test]
async fn the_trainer_opens_an_envelope_python_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let input = concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv");
    let plain = std::fs::read(input).unwrap();
    // The metadata the browser would declare; only the envelope and the wrap come from Python.
    let mut s = srv.seal(&plain, app::table::Format::Csv, None, 1024).await;
    let trainer = srv.trainer_key().await;
    let env_path = dir.path().join("py-envelope.bin");
    let wrapped_path = dir.path().join("py-wrapped.json");
    run_python(&[
        "seal",
        "--public",
        &trainer.public_key,
        "--id",
        &s.id,
        "--chunk-size",
        "1024",
        "--input",
        input,
        "--envelope",
        env_path.to_str().unwrap(),
        "--wrapped",
        wrapped_path.to_str().unwrap(),
    ]);
    let envelope = std::fs::read(&env_path).unwrap();
    s.declared.envelope_header = app::crypto::b64(&envelope[..40]);
    s.declared.wrapped_keys = vec![serde_json::from_slice(&std::fs::read(&wrapped_path).unwrap()).unwrap()];
    s.envelope = envelope;
    srv.store_dataset(&alice.access, &s).await;
    let table = srv.backend.datasets.open_for_training(&s.id, "python interop").await.unwrap();
    assert_eq!(table.len(), 150);
    assert_eq!(table, app::table::Table::parse(&plain, app::table::Format::Csv, &Default::default()).unwrap());
    srv.stop().await;
}

/// docs/model-format.md read by an independent reader (Python, standard library only): for a
/// logistic model on iris and a linear model on diabetes it reproduces every prediction the
/// server makes, to 1e-9.
#[tokio::test]
async fn python_reproduces_predictions_from_the_model_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    for (file, target, kind) in [("iris.csv", "species", "logistic"), ("diabetes.csv", "progression", "linear")] {
        let path = format!("{}/../app/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let s = srv.seal(&bytes, app::table::Format::Csv, None, 1 << 20).await;
        srv.store_dataset(&alice.access, &s).await;
        let job = srv.train(&alice.access, serde_json::json!({"dataset_ids": [s.id], "target": target, "model": {"kind": kind}})).await;
        let model = job.model_id.unwrap();
        let artifact = srv.get_as(&alice.access, &format!("/api/models/{model}/artifact")).await.bytes().await.unwrap();
        // Every row of the file, as the JSON objects a client would send.
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = reader
            .records()
            .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_owned(), serde_json::Value::from(v))).collect())
            .collect();
        let r = common::client()
            .post(srv.url(&format!("/api/models/{model}/predict")))
            .bearer_auth(&alice.access)
            .json(&serde_json::json!({"rows": rows}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let predictions = r.bytes().await.unwrap();
        let (a, p) = (dir.path().join(format!("{kind}.json")), dir.path().join(format!("{kind}-predictions.json")));
        std::fs::write(&a, &artifact).unwrap();
        std::fs::write(&p, &predictions).unwrap();
        let out = Command::new(python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/model_check.py"))
            .arg(&a)
            .arg(&path)
            .arg(&p)
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "model_check.py ({kind}) failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(v["rows"].as_u64(), Some(rows.len() as u64));
        assert!(v["max_abs_diff"].as_f64().unwrap() < 1e-9, "{v}");
    }
    srv.stop().await;
}

/// One secure-aggregation round made by `app::fl` (the code browsers and the CLI run), with a
/// participant who dropped out after the shares went round, unmasked by Python's
/// `cryptography` and its own Shamir (`tests/independent/secagg.py`): the keys, the share
/// envelopes, the masks and the unmasking are the construction, not only our reading of it.
#[test]
fn python_unmasks_a_secure_aggregation_round_that_rust_masked() {
    use app::fl::masks::{RoundContext, RoundSecrets};
    use app::fl::shares::{seal, SharePair};
    use app::fl::{fixed, shamir};
    let ctx = RoundContext { federation: "fed-3f9a".into(), round: 7 };
    let (n, threshold, dropped) = (5u16, 3, 4u16);
    let ids: Vec<u16> = (1..=n).collect();
    let parts: Vec<RoundSecrets> = ids.iter().map(|_| RoundSecrets::generate().unwrap()).collect();
    let adv: Vec<_> = parts.iter().map(RoundSecrets::advertised).collect();
    let mut envelopes = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let me = ids[i];
        let others: Vec<u16> = ids.iter().copied().filter(|&v| v != me).collect();
        let m = shamir::split(&p.mask_secret, threshold, &others).unwrap();
        let b = shamir::split(&p.self_secret, threshold, &others).unwrap();
        for (k, &to) in others.iter().enumerate() {
            let pair = SharePair { from: me, to, mask: m[k].y, self_seed: b[k].y };
            let sealed = seal(&pair, &p.share_key, &adv[usize::from(to) - 1].share_public, &ctx).unwrap();
            envelopes.push(serde_json::json!({"from": me, "to": to, "sealed": hex::encode(sealed)}));
        }
    }
    let publics: Vec<(u16, [u8; 32])> = ids.iter().zip(&adv).map(|(&id, a)| (id, a.mask_public)).collect();
    let inputs: Vec<Vec<u64>> = ids
        .iter()
        .map(|&id| fixed::Encoding::WEIGHTS.encode(&[f64::from(id) * 0.5, -1.25, 1e-3 * f64::from(id)], 10 * u64::from(id)).unwrap().values)
        .collect();
    let mut masked = serde_json::Map::new();
    let mut expected = vec![0u64; inputs[0].len()];
    for (i, p) in parts.iter().enumerate() {
        if ids[i] == dropped {
            continue;
        }
        let y = p.mask(&inputs[i], ids[i], &publics, &ctx).unwrap();
        assert_ne!(y, inputs[i]);
        masked.insert(ids[i].to_string(), y.iter().map(|v| v.to_string()).collect());
        expected.iter_mut().zip(&inputs[i]).for_each(|(e, x)| *e = e.wrapping_add(*x));
    }
    let share_secrets: serde_json::Map<String, serde_json::Value> =
        ids.iter().zip(&parts).map(|(id, p)| (id.to_string(), hex::encode(p.share_key.to_bytes()).into())).collect();
    let advertised: Vec<serde_json::Value> = ids
        .iter()
        .zip(&adv)
        .map(|(id, a)| {
            serde_json::json!({"id": id, "share_public": hex::encode(a.share_public), "mask_public": hex::encode(a.mask_public),
                "self_commitment": hex::encode(a.self_commitment)})
        })
        .collect();
    let round = serde_json::json!({"federation": ctx.federation, "round": ctx.round, "threshold": threshold, "length": expected.len(),
        "advertised": advertised, "envelopes": envelopes, "masked": masked, "share_secrets": share_secrets});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round.json");
    std::fs::write(&path, serde_json::to_vec(&round).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/secagg.py"))
        .arg(&path)
        .output()
        .expect("python runs (set CIPHERFOLD_PYTHON or pip install cryptography)");
    assert!(out.status.success(), "secagg.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sum: Vec<u64> = v["sum"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(v["dropped"], serde_json::json!([dropped]));
    assert_eq!(sum, expected, "Python's unmasked sum is the sum of the survivors' inputs");
    // (0.5+1+1.5+2.5)/… weighted by 10·id rows: the mean Rust decodes from Python's sum.
    let mean = fixed::Encoding::WEIGHTS.decode_mean(&sum).unwrap();
    let rows: f64 = [1.0, 2.0, 3.0, 5.0].iter().map(|id| 10.0 * id).sum();
    let want0: f64 = [1.0f64, 2.0, 3.0, 5.0].iter().map(|id| 10.0 * id * id * 0.5).sum::<f64>() / rows;
    assert!((mean[0] - want0).abs() < 1e-6 && (mean[1] + 1.25).abs() < 1e-6, "{mean:?}");
}

/// A federation declared by `owner` with `body`, in which two Rust clients (users ana and ben
/// with iris's rows 0 and 1 mod 3) and participant.py (user pyth, rows 2 mod 3 in a CSV file
/// in `dir`) take part until it finishes: its task, the last round view and what the Python
/// participant printed.
async fn with_python(
    srv: &TestServer,
    owner: &crate::common::User,
    dir: &std::path::Path,
    body: serde_json::Value,
) -> (app::fl::train::FlTask, app::model::federation::RoundView, serde_json::Value) {
    use crate::federated::{iris, post, send, view};
    use app::fl::client::Client;
    use app::model::federation::FederationStatus;
    use serde_json::{json, Value};

    let rust = [srv.user("ana").await, srv.user("ben").await];
    assert_eq!(srv.register("pyth", "healthcare", "oncology").await.status(), 201);
    let fed: Value = post(srv, &owner.access, "/api/federations", body).await.json().await.unwrap();
    let id = fed["id"].as_str().unwrap().to_owned();
    let task: app::fl::train::FlTask = serde_json::from_value(fed["task"].clone()).unwrap();
    for u in &rust {
        assert_eq!(post(srv, &u.access, &format!("/api/federations/{id}/join"), json!({})).await.status(), 200);
    }
    let whole = iris();
    let part = |of: usize| whole.select(&(of..whole.len()).step_by(3).collect::<Vec<_>>());
    let csv = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let mine: Vec<&str> = lines.enumerate().filter(|(i, _)| i % 3 == 2).map(|(_, l)| l).collect();
    let file = dir.join("python.csv");
    std::fs::write(&file, format!("{header}\n{}\n", mine.join("\n"))).unwrap();
    let py = std::process::Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/participant.py"))
        .args([&srv.url(""), &id, "pyth", "correct horse battery"])
        .arg(&file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs (set CIPHERFOLD_PYTHON or pip install cryptography)");
    let mut py = tokio::task::spawn_blocking(move || py.wait_with_output().unwrap());

    let tables = [part(0), part(1)];
    let datas: Vec<_> = tables.iter().map(|t| task.local(t).unwrap()).collect();
    let mut clients: Vec<Client> = (0..2).map(|_| Client::new(id.clone(), task.clone()).unwrap()).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut last: Option<app::model::federation::RoundView> = None;
    let mut said = None;
    let end = loop {
        // Say what stopped it: the federation's state, and participant.py's output if it quit.
        assert!(std::time::Instant::now() < deadline, "the federation did not finish in 120 s; last view: {last:?}");
        if said.is_none() && py.is_finished() {
            let out = (&mut py).await.unwrap();
            let state = last.as_ref().map(|v| (&v.status, &v.round, &v.failure));
            assert!(out.status.success(), "participant.py failed (federation {state:?}):\n{}", String::from_utf8_lossy(&out.stderr));
            said = Some(out);
        }
        for (i, u) in rust.iter().enumerate() {
            let v = view(srv, &u.access, &id).await;
            if let Some(out) = clients[i].next(&v, &datas[i]).unwrap() {
                let r = send(srv, &u.access, &id, &out).await;
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            }
            last = Some(v);
        }
        let v = last.clone().unwrap();
        assert_ne!(v.status, FederationStatus::Failed, "the federation failed: {:?}", v.failure);
        if v.status == FederationStatus::Finished {
            break v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let out = match said {
        Some(out) => out,
        None => py.await.unwrap(),
    };
    assert!(out.status.success(), "participant.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let said: Value = serde_json::from_slice(&out.stdout).unwrap();
    (task, end, said)
}

/// A participant written in Python from docs/federated.md and docs/api.md alone
/// (`tests/independent/participant.py`) takes part in a linear-regression federation over
/// HTTP beside two participants running `app::fl::client`. Linear regression is exact, so the
/// federation's model must be central least squares on all 150 rows: any byte of the Python
/// client's keys, envelopes, masks, reveals or vectors that differed from the spec would
/// break the round or the coefficients.
#[tokio::test(flavor = "multi_thread")]
async fn python_written_from_the_docs_takes_part_in_a_federation() {
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let numeric = |n: &str| json!({"name": n, "kind": "numeric"});
    let body = json!({
        "name": "petal width, exactly",
        "task": {"features": [numeric("sepal_length_cm"), numeric("sepal_width_cm"), numeric("petal_length_cm")],
                 "target": "petal_width_cm", "model": {"kind": "linear"}},
        "rounds": 1, "min_participants": 3, "threshold": 2, "round_timeout_secs": 30
    });
    let (task, end, said) = with_python(&srv, &owner, dir.path(), body).await;
    let model_id = end.model_id.clone().unwrap();
    assert_eq!(said["model_id"], model_id.as_str());
    assert!(end.results.iter().all(|r| r.participants == 3 && r.rows == 150), "{:?}", end.results);

    // Central least squares on the same 150 rows, standardised with the federation's
    // statistics (their fixed-point means shift the standardisation by up to 2^-11, which moves
    // the coefficients but not a least-squares fit's predictions).
    let whole = crate::federated::iris();
    let pre = task.preprocessor(end.means.as_ref().unwrap()).unwrap();
    let rows: Vec<usize> = (0..whole.len()).collect();
    let x = pre.transform(&whole, &rows).unwrap();
    let y: Vec<f64> = whole.rows().map(|r| r[3].as_f64().unwrap()).collect();
    let app::ml::linear::Fitted::Linear { intercept, coef } = app::ml::linear::fit_linear(x.clone(), y.clone()).unwrap() else {
        panic!("linear")
    };
    let artifact: serde_json::Value = srv.get_as(&owner.access, &format!("/api/models/{model_id}/artifact")).await.json().await.unwrap();
    let fitted = &artifact["model"]["fitted"];
    assert!((fitted["intercept"].as_f64().unwrap() - intercept).abs() < 1e-5, "{fitted} vs {intercept}");
    for (got, want) in fitted["coef"].as_array().unwrap().iter().zip(&coef) {
        assert!((got.as_f64().unwrap() - want).abs() < 1e-5, "{fitted} vs {coef:?}");
    }
    let pred: Vec<f64> = x.outer_iter().map(|r| intercept + r.iter().zip(&coef).map(|(a, b)| a * b).sum::<f64>()).collect();
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let r2 = 1.0 - y.iter().zip(&pred).map(|(t, p)| (t - p).powi(2)).sum::<f64>() / y.iter().map(|t| (t - mean).powi(2)).sum::<f64>();
    let app::ml::metrics::Metrics::Regression(fed_r2) = end.results.last().unwrap().metrics.clone().unwrap() else { panic!("regression") };
    assert!((fed_r2.r2 - r2).abs() < 2e-3, "federated R² {} vs central {r2}", fed_r2.r2);
    println!("federated R² {:.6}, central {r2:.6}; coefficients equal to 1e-5", fed_r2.r2);
    srv.stop().await;
}

/// The same Python participant (written from docs/federated.md) in a *private* logistic
/// federation with distributed noise, beside two Rust clients: its clipped, noised updates
/// (weight 1) add up with theirs, the budget stops training after two of three rounds, and the
/// ledger it reads from its round view is the accountant's figure.
#[tokio::test]
async fn python_from_the_docs_takes_part_in_a_private_federation() {
    use crate::federated::iris_federation;
    use app::dp::accountant::epsilon;
    use serde_json::json;

    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let (sigma, delta) = (1.5, 1e-5);
    let budget = (epsilon(1.0, sigma, 2, delta).unwrap() + epsilon(1.0, sigma, 3, delta).unwrap()) / 2.0;
    let mut body = iris_federation(3, 3, 2);
    body["round_timeout_secs"] = json!(30);
    body["task"]["privacy"] = json!({"clip_norm": 1.0, "noise_multiplier": sigma, "noise": "distributed", "sampling_rate": 1.0, "epsilon": budget, "delta": delta});
    let (_, end, said) = with_python(&srv, &owner, dir.path(), body).await;
    assert_eq!(said["model_id"], end.model_id.clone().unwrap().as_str());
    // Statistics, two training steps (the third would pass the budget), the evaluation; all three in each.
    assert_eq!(end.results.len(), 4, "{:?}", end.results);
    assert!(end.results.iter().all(|r| r.participants == 3), "{:?}", end.results);
    let expected = epsilon(1.0, sigma, 2, delta).unwrap();
    let ledger = &said["privacy"];
    assert!((ledger["epsilon"].as_f64().unwrap() - expected).abs() < 1e-12, "{ledger}");
    assert_eq!(ledger["contributed"], json!([2, 3]), "{ledger}");
    assert_eq!(ledger["rounds"], 2);
}

/// The privacy accountant (`app::dp::accountant`) against Google's `dp-accounting` (its RDP
/// accountant, run by the installed package during this test): ε of the Poisson-sampled
/// Gaussian mechanism within 1 % on every case, from no sampling to q = 0.001, σ from 0.8 to
/// 4, 1 to 10,000 steps.
#[test]
fn the_privacy_accountant_matches_google_dp_accounting() {
    let cases = [
        (1.0, 1.0, 1, 1e-5),
        (1.0, 4.0, 100, 1e-6),
        (0.01, 1.1, 1000, 1e-5),
        (0.001, 0.8, 10_000, 1e-5),
        (0.1, 2.0, 50, 1e-5),
        (0.05, 4.0, 10_000, 1e-6),
        (0.256, 1.3, 3000, 1e-5),
        (0.02, 0.9, 1, 1e-3),
    ];
    let json: Vec<serde_json::Value> =
        cases.iter().map(|(q, sigma, steps, delta)| serde_json::json!({"q": q, "sigma": sigma, "steps": steps, "delta": delta})).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/independent/dp_check.py"))
        .arg(&path)
        .output()
        .expect("python runs (set CIPHERFOLD_PYTHON or pip install dp-accounting)");
    assert!(out.status.success(), "dp_check.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let reference: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
    for ((q, sigma, steps, delta), want) in cases.iter().zip(reference) {
        let got = app::dp::accountant::epsilon(*q, *sigma, *steps, *delta).unwrap();
        println!(
            "q {q:<6} σ {sigma:<4} steps {steps:<6} δ {delta:e}: ε {got:.6} (dp-accounting {want:.6}, {:+.4} %)",
            100.0 * (got - want) / want
        );
        assert!((got - want).abs() <= 0.01 * want, "q {q}, σ {sigma}, {steps} steps, δ {delta}: {got} vs {want}");
    }
}
