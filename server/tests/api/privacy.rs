//! The privacy accountant as people reach it: `GET /api/privacy/epsilon` and `cipherfold
//! privacy epsilon` give the same ε (the accountant itself is checked against Google's
//! `dp-accounting` in `independent.rs`), and a bad parameter is named.

use serde_json::Value;

use crate::common::TestServer;
use crate::process::cipherfold;

#[tokio::test]
async fn the_api_previews_epsilon_and_the_noise_for_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let u = srv.user("alice").await;
    let r = srv.get_as(&u.access, "/api/privacy/epsilon?sampling_rate=0.01&noise_multiplier=1.1&steps=1000&delta=1e-5").await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!((v["epsilon"].as_f64().unwrap() - 1.711770).abs() < 1e-5, "{v}");
    let v: Value = srv.get_as(&u.access, "/api/privacy/epsilon?sampling_rate=0.01&epsilon=2&steps=1000").await.json().await.unwrap();
    let sigma = v["noise_multiplier"].as_f64().unwrap();
    assert!(v["epsilon"].as_f64().unwrap() <= 2.0 && (1.0..1.05).contains(&sigma), "{v}");
    let r = srv.get_as(&u.access, "/api/privacy/epsilon?sampling_rate=1.5&noise_multiplier=1&steps=10").await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["fields"]["sampling_rate"], "must be between 0 and 1, not 1.5");
    let v: Value = srv.get_as(&u.access, "/api/privacy/epsilon?epsilon=-1&steps=10").await.json().await.unwrap();
    assert_eq!(v["fields"]["epsilon"], "must be above 0, not -1");
    let v: Value = srv.get_as(&u.access, "/api/privacy/epsilon?noise_multiplier=1&steps=ten").await.json().await.unwrap();
    assert_eq!(v["fields"]["steps"], "must be a whole number, not “ten”");
    srv.stop().await;
}

#[test]
fn the_cli_prints_epsilon_or_the_noise_and_names_a_bad_flag() {
    let run = |args: &[&str]| {
        let out = cipherfold().args(["privacy", "epsilon"]).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, _) = run(&["--sampling-rate", "0.01", "--noise-multiplier", "1.1", "--steps", "1000", "--delta", "1e-5"]);
    assert_eq!((code, out.trim()), (Some(0), "ε = 1.7118 (1000 steps, sampling rate 0.01, δ = 1e-5, noise multiplier 1.1)"));
    let (code, out, _) = run(&["--sampling-rate", "0.01", "--epsilon", "2", "--steps", "1000"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("noise multiplier 1.02") && out.contains("≤ 2"), "{out}");
    let (code, _, err) = run(&["--sampling-rate", "2", "--noise-multiplier", "1", "--steps", "3"]);
    assert_eq!((code, err.trim()), (Some(1), "error: --sampling-rate: must be between 0 and 1, not 2"));
}
