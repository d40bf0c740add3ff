//! The audit log records what happened, is filterable by admins, and `verify` catches tampering.

use crate::common::{client, TestServer};
use serde_json::Value;
use server::backend::audit;

#[tokio::test]
async fn actions_are_recorded_in_a_chain_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let admin = srv.user("root").await;
    let alice = srv.user("alice").await;
    assert_eq!(srv.login("alice", "wrong password!!").await.status(), 401);
    assert_eq!(srv.get_as(&alice.access, "/api/audit").await.status(), 403);

    let entries: Vec<Value> = srv.get_as(&admin.access, "/api/audit?limit=50").await.json().await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    // Newest first.
    assert_eq!(actions[0], "audit.read", "{actions:?}");
    assert!(entries[0]["outcome"].as_str().unwrap().starts_with("denied"), "alice's refused read is recorded");
    let failed_login =
        entries.iter().find(|e| e["action"] == "auth.login" && e["outcome"].as_str().unwrap().starts_with("denied")).unwrap();
    assert_eq!(failed_login["target"], "alice");
    assert_eq!(failed_login["client"], "127.0.0.1");
    // Sequence numbers are contiguous and each entry links to the previous.
    for w in entries.windows(2) {
        assert_eq!(w[0]["seq"].as_u64().unwrap(), w[1]["seq"].as_u64().unwrap() + 1);
        assert_eq!(w[0]["prev_hash"], w[1]["hash"]);
    }

    // Filters combine.
    let denied: Vec<Value> = srv.get_as(&admin.access, "/api/audit?action=auth.&outcome=denied").await.json().await.unwrap();
    assert_eq!(denied.len(), 1, "{denied:?}");
    let mine: Vec<Value> = srv.get_as(&admin.access, &format!("/api/audit?actor={}", alice.id)).await.json().await.unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|e| e["actor"] == alice.id.as_str()));
    // Names beside ids: the actor's username, and a target that is an account; the same
    // entries found by username; a login tried under a name that is no account has no name.
    assert!(mine.iter().all(|e| e["actor_name"] == "alice"), "{mine:?}");
    let by_name: Vec<Value> = srv.get_as(&admin.access, "/api/audit?actor=alice").await.json().await.unwrap();
    assert_eq!(by_name.len(), mine.len());
    assert!(failed_login.get("target_name").is_none(), "the target is a username tried, not an id: {failed_login}");
    let named_target = entries.iter().find(|e| e["target"] == alice.id.as_str()).expect("an entry about alice's account");
    assert_eq!(named_target["target_name"], "alice");

    let n = audit::verify(&srv.backend.db).await.unwrap().expect("intact chain");
    assert_eq!(n, entries[0]["seq"].as_u64().unwrap());
    srv.stop().await;
}

#[tokio::test]
async fn verify_finds_a_modified_a_removed_and_a_reordered_entry() {
    for tamper in [
        "UPDATE audit SET outcome = 'ok' WHERE seq = 3",
        "DELETE audit WHERE seq = 3",
        "UPDATE audit SET seq = 99 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 99",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let srv = TestServer::in_memory(dir.path()).await;
        srv.user("root").await;
        srv.user("alice").await;
        srv.login("alice", "wrong password!!").await;
        assert!(audit::verify(&srv.backend.db).await.unwrap().is_ok());
        srv.backend.db.query(tamper).await.unwrap().check().unwrap();
        let brk = audit::verify(&srv.backend.db).await.unwrap().expect_err(tamper);
        assert_eq!(brk.seq, 3, "{tamper}: {brk}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn audit_filters_reject_nothing_but_cap_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let admin = srv.user("root").await;
    let r = client().get(srv.url("/api/audit?limit=100000")).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client().get(srv.url("/api/audit?limit=abc")).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(r.status(), 400);
    srv.stop().await;
}
