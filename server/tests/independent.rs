//! Checks by independent implementations (Python's PyJWT), so our formats are not only
//! consistent with themselves. scripts/test.sh provides CIPHERFOLD_PYTHON, a Python with the
//! checkers installed; elsewhere `python3` must have them.

mod common;

use std::process::Command;

use common::TestServer;

fn python() -> String {
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
