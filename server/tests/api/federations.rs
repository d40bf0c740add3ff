//! Federations over HTTP: declared with every problem named by field, seen by their area
//! only (admins all), joined by the area's people, and the member count without names.

use crate::common::{client, TestServer};
use crate::federated::iris_federation;
use serde_json::{json, Value};

#[tokio::test]
async fn a_federation_is_declared_seen_and_joined_within_its_area() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let admin = srv.user("root").await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    assert_eq!(srv.register("carol", "finance", "trading").await.status(), 201);
    let carol: Value = srv.login("carol", "correct horse battery").await.json().await.unwrap();
    let carol = carol["access_token"].as_str().unwrap().to_owned();

    let post = |token: &str, path: &str, body: Value| {
        let req = client().post(srv.url(path)).bearer_auth(token.to_owned()).json(&body);
        async move { req.send().await.unwrap() }
    };
    let r = post(&alice.access, "/api/federations", iris_federation(50, 3, 2)).await;
    assert_eq!(r.status(), 201);
    let fed: Value = r.json().await.unwrap();
    let id = fed["id"].as_str().unwrap().to_owned();
    assert_eq!((fed["status"].as_str(), fed["members"].as_u64(), fed["joined"].as_bool()), (Some("open"), Some(0), Some(false)));
    assert_eq!(
        fed["task"],
        iris_federation(50, 3, 2)["task"]
            .clone()
            .as_object()
            .map(|t| {
                let mut t = t.clone();
                t["model"]["mu"] = json!(0.0);
                Value::Object(t)
            })
            .unwrap(),
        "the task reads back as declared (μ defaults to 0)"
    );

    // Every problem named by its field, nothing stored.
    let mut bad = iris_federation(50, 3, 2);
    bad["threshold"] = json!(1);
    bad["task"]["features"][0]["kind"] = json!("categorical");
    bad["task"]["model"]["epochs"] = json!(0);
    let r = post(&alice.access, "/api/federations", bad).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let fields: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["task.features[0].categories", "task.model.epochs", "threshold"], "{v}");
    let mut typo = iris_federation(50, 3, 2);
    typo["task"]["model"]["kind"] = json!("forest");
    let v: Value = post(&alice.access, "/api/federations", typo).await.json().await.unwrap();
    assert!(v["fields"]["task.model.kind"].as_str().unwrap().contains("unknown variant"), "{v}");
    // Privacy settings that cannot work, each named; a budget one round already spends.
    let mut private = iris_federation(50, 3, 2);
    private["task"]["privacy"] =
        json!({"clip_norm": 0, "noise_multiplier": -1, "noise": "central", "sampling_rate": 1.5, "epsilon": 0, "delta": 1});
    let v: Value = post(&alice.access, "/api/federations", private.clone()).await.json().await.unwrap();
    let fields: Vec<&String> = v["fields"].as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "task.privacy.clip_norm",
            "task.privacy.delta",
            "task.privacy.epsilon",
            "task.privacy.noise_multiplier",
            "task.privacy.sampling_rate"
        ],
        "{v}"
    );
    private["task"]["privacy"] =
        json!({"clip_norm": 1, "noise_multiplier": 0.5, "noise": "distributed", "sampling_rate": 1, "epsilon": 1, "delta": 1e-5});
    let v: Value = post(&alice.access, "/api/federations", private.clone()).await.json().await.unwrap();
    assert!(v["fields"]["task.privacy.epsilon"].as_str().unwrap().contains("one round already spends ε"), "{v}");
    private["task"]["privacy"]["epsilon"] = json!(100);
    private["task"]["privacy"]["delta"] = json!(0.5);
    let v: Value = post(&alice.access, "/api/federations", private).await.json().await.unwrap();
    assert!(v["fields"]["task.privacy.delta"].as_str().unwrap().contains("below 1 / the participants"), "{v}");

    // The area sees it and joins; joining twice changes nothing; an outsider sees nothing.
    let list: Vec<Value> = srv.get_as(&bob.access, "/api/federations").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
    let joined: Value = post(&bob.access, &format!("/api/federations/{id}/join"), json!({})).await.json().await.unwrap();
    assert_eq!((joined["members"].as_u64(), joined["joined"].as_bool()), (Some(1), Some(true)));
    let again = post(&bob.access, &format!("/api/federations/{id}/join"), json!({})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["members"], 1);
    let seen: Value = srv.get_as(&alice.access, &format!("/api/federations/{id}")).await.json().await.unwrap();
    assert_eq!(
        (seen["members"].as_u64(), seen["joined"].as_bool()),
        (Some(1), Some(false)),
        "a count, and only the caller's own membership"
    );
    assert!(!seen.to_string().contains(&bob.id), "members are not named");
    for (token, joined) in [(&bob.access, true), (&alice.access, false)] {
        let l: Vec<Value> = srv.get_as(token, "/api/federations").await.json().await.unwrap();
        assert_eq!(
            (l[0]["members"].as_u64(), l[0]["joined"].as_bool()),
            (Some(1), Some(joined)),
            "the list counts members and says who asked"
        );
    }
    assert_eq!(srv.get_as(&carol, &format!("/api/federations/{id}")).await.status(), 404);
    assert_eq!(post(&carol, &format!("/api/federations/{id}/join"), json!({})).await.status(), 404);
    let carols: Vec<Value> = srv.get_as(&carol, "/api/federations").await.json().await.unwrap();
    assert!(carols.is_empty());
    // Admins see every federation but take part only in their own area's (root's is healthcare/oncology too).
    assert_eq!(srv.get_as(&admin.access, &format!("/api/federations/{id}")).await.status(), 200);

    let audit: Vec<Value> = srv.get_as(&admin.access, "/api/audit?action=federation.join").await.json().await.unwrap();
    assert_eq!(audit.iter().filter(|e| e["outcome"].as_str().unwrap().starts_with("ok")).count(), 1, "one join recorded");
    assert!(audit
        .iter()
        .any(|e| e["outcome"].as_str().unwrap().starts_with("denied") || e["outcome"].as_str().unwrap().starts_with("failed")));
    srv.stop().await;
}
