//! Accounts and sessions over HTTP against the real server and embedded database.

use crate::common::{client, walk, TestServer};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

async fn server() -> (tempfile::TempDir, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    (dir, srv)
}

#[tokio::test]
async fn register_answers_201_then_409_for_duplicates_and_422_for_bad_input() {
    let (_d, srv) = server().await;
    let r = srv.register("alice", "healthcare", "oncology").await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["username"], "alice");
    assert_eq!(body["domain"], "healthcare");
    assert_eq!(body["subdomain"], "oncology");
    assert_eq!(body["id"].as_str().unwrap().len(), 32);
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());

    // Same username in another case: taken.
    let r = srv.register("ALICE", "finance", "trading").await;
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["field"], "username");

    // Same email under another username.
    let r = client()
        .post(srv.url("/api/auth/register"))
        .json(&json!({"username":"alice2","email":"Alice@example.org","password":"correct horse battery","domain":"finance","subdomain":"trading"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["field"], "email");

    let r = client()
        .post(srv.url("/api/auth/register"))
        .json(&json!({"username":"b","email":"nope","password":"short","domain":"finance","subdomain":"oncology"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "validation");
    for f in ["username", "email", "password", "subdomain"] {
        assert!(e["fields"][f].is_string(), "{f} missing in {e}");
    }

    // A body that is not the right shape is a 422 in the same format.
    let r = client()
        .post(srv.url("/api/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"username":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let e: Value = r.json().await.unwrap();
    // The first missing field is named, not "body".
    assert_eq!(e["fields"]["email"], "this field is required", "{e}");
}

#[tokio::test]
async fn login_sets_strict_httponly_cookies_and_gives_a_bearer_token() {
    let (_d, srv) = server().await;
    srv.register("alice", "healthcare", "oncology").await;
    let r = srv.login("Alice", "correct horse battery").await;
    assert_eq!(r.status(), 200);
    let cookies: Vec<String> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for c in &cookies {
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"), "{c}");
        assert!(!c.contains("Secure"), "plain-HTTP test server must not set Secure: {c}");
    }
    assert!(cookies.iter().any(|c| c.starts_with("cf_access=") && c.contains("Max-Age=900")));
    assert!(cookies.iter().any(|c| c.starts_with("cf_refresh=")));
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    let access = t["access_token"].as_str().unwrap();

    let me: Value = srv.get_as(access, "/api/me").await.json().await.unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "admin", "the first user is admin");

    // The cookie alone authenticates too (the browser's way).
    let access_cookie = cookies.iter().find(|c| c.starts_with("cf_access=")).unwrap().split(';').next().unwrap();
    let r = client().get(srv.url("/api/me")).header("cookie", access_cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Behind HTTPS (as a proxy reports it) the cookies are Secure.
    let r = client()
        .post(srv.url("/api/auth/login"))
        .header("x-forwarded-proto", "https")
        .json(&json!({"username":"alice","password":"correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get_all("set-cookie").iter().all(|v| v.to_str().unwrap().contains("; Secure")));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let (_d, srv) = server().await;
    srv.register("alice", "healthcare", "oncology").await;
    let a = srv.login("alice", "wrong password!!").await;
    let b = srv.login("nobody", "correct horse battery").await;
    assert_eq!(a.status(), 401);
    assert_eq!(b.status(), 401);
    assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());
    let r = client().get(srv.url("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn login_is_rate_limited_per_account_with_retry_after() {
    let (_d, srv) = server().await;
    srv.register("alice", "healthcare", "oncology").await;
    for _ in 0..5 {
        assert_eq!(srv.login("alice", "wrong password!!").await.status(), 401);
    }
    let r = srv.login("alice", "correct horse battery").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "rate_limited");
}

/// Behind a trusted proxy each person's address has its own 30 tries; an address a client
/// writes into `X-Forwarded-For` itself, to a node that does not trust it, changes nothing.
#[tokio::test]
async fn login_limits_count_the_forwarded_address_only_from_trusted_proxies() {
    use server::backend::auth::ratelimit::LoginLimits;
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    // No try comes back during the count however slow the machine (one every 6 s would
    // after 6 s: CI once took longer than that for these 60 logins).
    let limits = |mut l: LoginLimits| {
        l.per_client.period = std::time::Duration::from_secs(3600);
        l
    };
    config.login_limits = limits(config.login_limits);
    let proxied = TestServer::start(config).await;
    let dir2 = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir2.path());
    config.login_limits = limits(config.login_limits);
    let direct = TestServer::start(config).await;
    let login_from = |srv: &TestServer, forwarded: &'static str, i: usize| {
        let url = srv.url("/api/auth/login");
        async move {
            client()
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&json!({"username": format!("nobody{i}"), "password": "wrong password!!"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..30 {
        assert_eq!(login_from(&proxied, "203.0.113.1", i).await, 401);
        assert_eq!(login_from(&direct, "203.0.113.1", i).await, 401);
    }
    // Through the trusted proxy: that person is limited, another one is not.
    assert_eq!(login_from(&proxied, "203.0.113.1", 30).await, 429);
    assert_eq!(login_from(&proxied, "1.2.3.4, 203.0.113.2", 31).await, 401, "the rightmost untrusted hop is the client");
    // Straight to a node that trusts no proxy: every try counts against the connection's address.
    assert_eq!(login_from(&direct, "203.0.113.2", 30).await, 429);
    proxied.stop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let (_d, srv) = server().await;
    let u = srv.user("alice").await;
    let refresh = |t: String| {
        let url = srv.url("/api/auth/refresh");
        async move { client().post(url).json(&json!({"refresh_token": t})).send().await.unwrap() }
    };
    let r = refresh(u.refresh.clone()).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let second = t["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, u.refresh);
    assert_eq!(srv.get_as(t["access_token"].as_str().unwrap(), "/api/me").await.status(), 200);

    // The first token again once the grace window for racing renewals has passed: reuse.
    // Refused, and the second one dies with it.
    let past = server::backend::util::now_unix() - server::backend::auth::REUSE_GRACE_SECS - 1;
    srv.backend.db.query("UPDATE refresh_token SET used_at = $t WHERE used = true").bind(("t", past)).await.unwrap().check().unwrap();
    assert_eq!(refresh(u.refresh.clone()).await.status(), 401);
    assert_eq!(refresh(second).await.status(), 401);
}

/// A browser whose access token expired renews from several requests at once (on one node or
/// several): every renewal by that client within the grace window gets a session, and the
/// session goes on. (The same token from another address is a theft, grace or not: the unit
/// test `a_renewal_from_another_address_is_not_in_grace`.)
#[tokio::test]
async fn concurrent_renewals_by_one_client_all_succeed_and_the_session_goes_on() {
    let (_d, srv) = server().await;
    let u = srv.user("alice").await;
    let refresh = |t: String| {
        let url = srv.url("/api/auth/refresh");
        async move { client().post(url).json(&json!({"refresh_token": t})).send().await.unwrap() }
    };
    let answers = futures::future::join_all((0..4).map(|_| refresh(u.refresh.clone()))).await;
    let mut tokens = Vec::new();
    for r in answers {
        assert_eq!(r.status(), 200, "every racing renewal succeeds");
        let t: Value = r.json().await.unwrap();
        tokens.push(t["refresh_token"].as_str().unwrap().to_owned());
    }
    // Each new token renews in turn: the family was not revoked.
    for t in &tokens {
        assert_eq!(refresh(t.clone()).await.status(), 200);
    }
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_the_access_token() {
    let (_d, srv) = server().await;
    let u = srv.user("alice").await;
    let r =
        client().post(srv.url("/api/auth/logout")).bearer_auth(&u.access).json(&json!({"refresh_token": u.refresh})).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers().get_all("set-cookie").iter().all(|v| v.to_str().unwrap().contains("Max-Age=0")));
    assert_eq!(srv.get_as(&u.access, "/api/me").await.status(), 401);
    let r = client().post(srv.url("/api/auth/refresh")).json(&json!({"refresh_token": u.refresh})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

fn signing_key(dir: &std::path::Path) -> Vec<u8> {
    hex::decode(std::fs::read_to_string(dir.join("keys/jwt-hs256.hex")).unwrap().trim()).unwrap()
}

#[tokio::test]
async fn forged_expired_and_orphaned_tokens_are_rejected() {
    let (dir, srv) = server().await;
    let admin = srv.user("root").await;
    let u = srv.user("alice").await;
    let key = signing_key(dir.path());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // Tampered signature: flip one character of the signature.
    let mut bad = u.access.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(srv.get_as(&bad, "/api/me").await.status(), 401);

    // Tampered payload: claim to be admin, keep the old signature.
    let parts: Vec<&str> = u.access.split('.').collect();
    let payload = json!({"sub": u.id, "exp": now + 600, "iat": now, "jti": "x", "role": "admin"});
    let forged = format!("{}.{}.{}", parts[0], b64(&payload.to_string()), parts[2]);
    assert_eq!(srv.get_as(&forged, "/api/me").await.status(), 401);

    // alg: none, no signature.
    let none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&payload.to_string()));
    assert_eq!(srv.get_as(&none, "/api/me").await.status(), 401);

    // Properly signed but expired.
    let expired = json!({"sub": u.id, "exp": now - 5, "iat": now - 905, "jti": "y", "role": "user"});
    let t = encode(&Header::default(), &expired, &EncodingKey::from_secret(&key)).unwrap();
    let r = srv.get_as(&t, "/api/me").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));

    // Signed with another key.
    let valid = json!({"sub": u.id, "exp": now + 600, "iat": now, "jti": "z", "role": "user"});
    let t = encode(&Header::default(), &valid, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
    assert_eq!(srv.get_as(&t, "/api/me").await.status(), 401);

    // A valid token whose user has been deleted.
    let r = client().delete(srv.url(&format!("/api/users/{}", u.id))).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = srv.get_as(&u.access, "/api/me").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("no longer exists"));
    // Its sessions ended with it, and a second delete finds nothing.
    let r = client().post(srv.url("/api/auth/refresh")).json(&json!({"refresh_token": u.refresh})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client().delete(srv.url(&format!("/api/users/{}", u.id))).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

fn b64(s: &str) -> String {
    use std::fmt::Write;
    // base64url without padding, written out to avoid one more dependency in tests.
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let _ = out.write_char(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn profile_changes_are_validated_and_password_change_needs_the_current_one() {
    let (_d, srv) = server().await;
    let u = srv.user("alice").await;
    let patch = |body: Value| {
        let url = srv.url("/api/me");
        let t = u.access.clone();
        async move { client().patch(url).bearer_auth(t).json(&body).send().await.unwrap() }
    };
    let r = patch(json!({"domain":"finance","subdomain":"fraud-detection"})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["subdomain"], "fraud-detection");
    let r = patch(json!({"domain":"finance","subdomain":"oncology"})).await;
    assert_eq!(r.status(), 422);

    let pw = |cur: &str, new: &str| {
        let url = srv.url("/api/me/password");
        let t = u.access.clone();
        let body = json!({"current_password": cur, "new_password": new});
        async move { client().post(url).bearer_auth(t).json(&body).send().await.unwrap() }
    };
    let r = pw("not my password", "a brand new passphrase").await;
    assert_eq!(r.status(), 422);
    assert!(r.json::<Value>().await.unwrap()["fields"]["current_password"].is_string());
    assert_eq!(pw(&u.password, "a brand new passphrase").await.status(), 204);
    assert_eq!(srv.login("alice", &u.password).await.status(), 401);
    assert_eq!(srv.login("alice", "a brand new passphrase").await.status(), 200);
    // Other sessions ended: the old refresh token is dead.
    let r = client().post(srv.url("/api/auth/refresh")).json(&json!({"refresh_token": u.refresh})).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn domains_catalog_is_public() {
    let (_d, srv) = server().await;
    let r = client().get(srv.url("/api/domains")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    assert_eq!(v[0]["id"], "healthcare");
    assert_eq!(v[0]["subdomains"][0]["name"], "Cardiology");
}

#[tokio::test]
async fn passwords_and_tokens_never_reach_the_database_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.database = server::config::DatabaseUrl::SurrealKv(dir.path().join("db"));
    let srv = TestServer::start(config).await;
    let u = srv.user("alice").await;
    // Rotate once so a used and a live token both exist.
    client().post(srv.url("/api/auth/refresh")).json(&json!({"refresh_token": u.refresh})).send().await.unwrap();
    srv.stop().await;
    let mut haystack = Vec::new();
    for f in walk(&dir.path().join("db")) {
        haystack.extend(std::fs::read(f).unwrap());
    }
    assert!(!haystack.is_empty());
    for needle in [u.password.as_bytes(), u.refresh.as_bytes(), u.access.as_bytes()] {
        assert!(!haystack.windows(needle.len()).any(|w| w == needle), "found a secret in the database files");
    }
    // The username is there (so the search itself works).
    assert!(haystack.windows(5).any(|w| w == b"alice"));
}

#[tokio::test]
async fn the_configured_admin_is_admin_even_when_not_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server::config::Config::for_tests(dir.path());
    config.admin = Some("Carol".into());
    let srv = TestServer::start(config).await;
    let first = srv.user("root").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    for (u, role) in [(&first, "admin"), (&bob, "user"), (&carol, "admin")] {
        let me: Value = srv.get_as(&u.access, "/api/me").await.json().await.unwrap();
        assert_eq!(me["role"], role, "{}", u.username);
    }
    srv.stop().await;
}
