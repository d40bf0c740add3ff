//! The authorization harness: who × what × on whose resource → expected status, over HTTP.
//! Later layers add rows for their resources (datasets, jobs, models).

use crate::common;
use crate::common::{client, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    /// The owner of the resource (alice).
    Owner,
    /// Another ordinary user in the owner's domain and subdomain (bob).
    Other,
    /// A user in another area (carol, finance / trading).
    Outsider,
    Admin,
}

struct Case {
    who: Who,
    method: Method,
    /// `{owner}` is replaced by alice's id, `{dataset}` by her private dataset's, `{shared}`
    /// by the one she shares with her area (no consent to joint training), `{job}` by her
    /// queued job's, `{model}` by her model's, `{federation}` by her federation's (in the path
    /// and the body).
    path: &'static str,
    body: Option<Value>,
    expect: u16,
}

fn case(who: Who, method: Method, path: &'static str, body: Option<Value>, expect: u16) -> Case {
    Case { who, method, path, body, expect }
}

fn table() -> Vec<Case> {
    use Who::*;
    let profile = || Some(json!({"domain": "finance", "subdomain": "trading"}));
    let job = || Some(json!({"dataset_ids": ["{dataset}"], "target": "species", "model": {"kind": "tree"}}));
    let shared_job = || Some(json!({"dataset_ids": ["{shared}"], "target": "species", "model": {"kind": "tree"}}));
    let predict =
        || Some(json!({"rows": [{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}]}));
    let password = || Some(json!({"current_password": "correct horse battery", "new_password": "another long passphrase"}));
    let federation = || Some(federation_body());
    let zeros = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let keys = || Some(json!({"share_public": zeros, "mask_public": zeros, "commitment": zeros}));
    vec![
        case(Anonymous, Method::GET, "/api/me", None, 401),
        case(Owner, Method::GET, "/api/me", None, 200),
        case(Anonymous, Method::PATCH, "/api/me", profile(), 401),
        case(Owner, Method::PATCH, "/api/me", profile(), 200),
        case(Anonymous, Method::POST, "/api/me/password", password(), 401),
        case(Owner, Method::POST, "/api/me/password", password(), 204),
        case(Anonymous, Method::DELETE, "/api/users/{owner}", None, 401),
        case(Other, Method::DELETE, "/api/users/{owner}", None, 403),
        case(Owner, Method::DELETE, "/api/users/{owner}", None, 204),
        case(Admin, Method::DELETE, "/api/users/{owner}", None, 204),
        case(Admin, Method::DELETE, "/api/users/no-such-user", None, 404),
        case(Anonymous, Method::GET, "/api/audit", None, 401),
        case(Owner, Method::GET, "/api/audit", None, 403),
        case(Admin, Method::GET, "/api/audit", None, 200),
        case(Anonymous, Method::GET, "/api/domains", None, 200),
        case(Anonymous, Method::GET, "/api/health", None, 200),
        case(Anonymous, Method::GET, "/api/keys/trainer", None, 200),
        case(Anonymous, Method::GET, "/api/keys/me", None, 401),
        case(Owner, Method::GET, "/api/keys/me", None, 200),
        case(Other, Method::GET, "/api/keys/me", None, 204),
        case(Anonymous, Method::GET, "/api/datasets", None, 401),
        case(Owner, Method::GET, "/api/datasets", None, 200),
        case(Anonymous, Method::POST, "/api/datasets", Some(json!({})), 401),
        case(Anonymous, Method::GET, "/api/datasets/{dataset}", None, 401),
        case(Owner, Method::GET, "/api/datasets/{dataset}", None, 200),
        case(Other, Method::GET, "/api/datasets/{dataset}", None, 404),
        case(Admin, Method::GET, "/api/datasets/{dataset}", None, 200),
        case(Other, Method::GET, "/api/datasets/{shared}", None, 200),
        case(Outsider, Method::GET, "/api/datasets/{shared}", None, 404),
        case(Anonymous, Method::GET, "/api/datasets/{dataset}/blob", None, 401),
        case(Owner, Method::GET, "/api/datasets/{dataset}/blob", None, 200),
        case(Other, Method::GET, "/api/datasets/{dataset}/blob", None, 404),
        case(Other, Method::GET, "/api/datasets/{shared}/blob", None, 403),
        case(Admin, Method::GET, "/api/datasets/{dataset}/blob", None, 403),
        case(Other, Method::PUT, "/api/datasets/{shared}/blob", None, 403),
        case(Owner, Method::PUT, "/api/datasets/{dataset}/blob", None, 409),
        case(Anonymous, Method::DELETE, "/api/datasets/{dataset}", None, 401),
        case(Other, Method::DELETE, "/api/datasets/{dataset}", None, 404),
        case(Other, Method::DELETE, "/api/datasets/{shared}", None, 403),
        case(Outsider, Method::DELETE, "/api/datasets/{shared}", None, 404),
        case(Owner, Method::DELETE, "/api/datasets/{dataset}", None, 204),
        case(Admin, Method::DELETE, "/api/datasets/{dataset}", None, 204),
        case(Anonymous, Method::PUT, "/api/datasets/{dataset}/consent", Some(json!({"allow": true})), 401),
        case(Owner, Method::PUT, "/api/datasets/{shared}/consent", Some(json!({"allow": true})), 200),
        case(Other, Method::PUT, "/api/datasets/{shared}/consent", Some(json!({"allow": true})), 403),
        case(Outsider, Method::PUT, "/api/datasets/{shared}/consent", Some(json!({"allow": true})), 404),
        case(Anonymous, Method::GET, "/api/jobs", None, 401),
        case(Owner, Method::GET, "/api/jobs", None, 200),
        case(Anonymous, Method::POST, "/api/jobs", job(), 401),
        case(Owner, Method::POST, "/api/jobs", job(), 201),
        case(Other, Method::POST, "/api/jobs", job(), 422),
        case(Other, Method::POST, "/api/jobs", shared_job(), 422),
        case(Outsider, Method::POST, "/api/jobs", shared_job(), 422),
        case(Anonymous, Method::GET, "/api/jobs/{job}", None, 401),
        case(Owner, Method::GET, "/api/jobs/{job}", None, 200),
        case(Other, Method::GET, "/api/jobs/{job}", None, 404),
        case(Outsider, Method::GET, "/api/jobs/{job}", None, 404),
        case(Admin, Method::GET, "/api/jobs/{job}", None, 200),
        case(Owner, Method::GET, "/api/jobs/{job}/events", None, 200),
        case(Other, Method::GET, "/api/jobs/{job}/events", None, 404),
        case(Anonymous, Method::POST, "/api/jobs/{job}/cancel", None, 401),
        case(Other, Method::POST, "/api/jobs/{job}/cancel", None, 404),
        case(Owner, Method::POST, "/api/jobs/{job}/cancel", None, 200),
        case(Admin, Method::POST, "/api/jobs/{job}/cancel", None, 200),
        case(Anonymous, Method::GET, "/api/models", None, 401),
        case(Owner, Method::GET, "/api/models", None, 200),
        case(Anonymous, Method::GET, "/api/models/{model}", None, 401),
        case(Owner, Method::GET, "/api/models/{model}", None, 200),
        case(Other, Method::GET, "/api/models/{model}", None, 200),
        case(Outsider, Method::GET, "/api/models/{model}", None, 404),
        case(Admin, Method::GET, "/api/models/{model}", None, 200),
        case(Anonymous, Method::POST, "/api/models/{model}/predict", predict(), 401),
        case(Other, Method::POST, "/api/models/{model}/predict", predict(), 200),
        case(Outsider, Method::POST, "/api/models/{model}/predict", predict(), 404),
        case(Owner, Method::GET, "/api/models/{model}/artifact", None, 200),
        case(Other, Method::GET, "/api/models/{model}/artifact", None, 403),
        case(Outsider, Method::GET, "/api/models/{model}/artifact", None, 404),
        case(Admin, Method::GET, "/api/models/{model}/artifact", None, 200),
        case(Anonymous, Method::GET, "/api/models/{model}/he", None, 401),
        case(Other, Method::GET, "/api/models/{model}/he", None, 200),
        case(Outsider, Method::GET, "/api/models/{model}/he", None, 404),
        case(Anonymous, Method::POST, "/api/models/{model}/predict-encrypted", Some(json!({})), 401),
        case(Other, Method::POST, "/api/models/{model}/predict-encrypted", Some(json!({})), 422),
        case(Outsider, Method::POST, "/api/models/{model}/predict-encrypted", Some(json!({})), 404),
        case(Anonymous, Method::DELETE, "/api/models/{model}", None, 401),
        case(Other, Method::DELETE, "/api/models/{model}", None, 403),
        case(Outsider, Method::DELETE, "/api/models/{model}", None, 404),
        case(Owner, Method::DELETE, "/api/models/{model}", None, 204),
        case(Admin, Method::DELETE, "/api/models/{model}", None, 204),
        case(Anonymous, Method::GET, "/api/analytics", None, 401),
        case(Owner, Method::GET, "/api/analytics", None, 200),
        case(Outsider, Method::GET, "/api/analytics?domain=healthcare&subdomain=oncology", None, 403),
        case(Admin, Method::GET, "/api/analytics?domain=healthcare&subdomain=oncology", None, 200),
        case(Anonymous, Method::GET, "/api/health/system", None, 401),
        case(Owner, Method::GET, "/api/health/system", None, 403),
        case(Admin, Method::GET, "/api/health/system", None, 200),
        case(Anonymous, Method::GET, "/metrics", None, 200),
        case(Anonymous, Method::GET, "/api/federations", None, 401),
        case(Outsider, Method::GET, "/api/federations", None, 200),
        case(Anonymous, Method::POST, "/api/federations", federation(), 401),
        case(Other, Method::POST, "/api/federations", federation(), 201),
        case(Outsider, Method::POST, "/api/federations", federation(), 201),
        case(Anonymous, Method::GET, "/api/federations/{federation}", None, 401),
        case(Owner, Method::GET, "/api/federations/{federation}", None, 200),
        case(Other, Method::GET, "/api/federations/{federation}", None, 200),
        case(Outsider, Method::GET, "/api/federations/{federation}", None, 404),
        case(Admin, Method::GET, "/api/federations/{federation}", None, 200),
        case(Anonymous, Method::POST, "/api/federations/{federation}/join", None, 401),
        case(Other, Method::POST, "/api/federations/{federation}/join", None, 200),
        case(Outsider, Method::POST, "/api/federations/{federation}/join", None, 404),
        case(Anonymous, Method::GET, "/api/privacy/epsilon?noise_multiplier=1&steps=10", None, 401),
        case(Outsider, Method::GET, "/api/privacy/epsilon?noise_multiplier=1&steps=10", None, 200),
        case(Anonymous, Method::GET, "/api/privacy/ledger", None, 401),
        case(Outsider, Method::GET, "/api/privacy/ledger", None, 200),
        case(Anonymous, Method::GET, "/api/federations/{federation}/round", None, 401),
        case(Owner, Method::GET, "/api/federations/{federation}/round", None, 200),
        case(Other, Method::GET, "/api/federations/{federation}/round", None, 200),
        case(Outsider, Method::GET, "/api/federations/{federation}/round", None, 404),
        case(Admin, Method::GET, "/api/federations/{federation}/round", None, 200),
        case(Anonymous, Method::GET, "/api/federations/{federation}/events", None, 401),
        case(Other, Method::GET, "/api/federations/{federation}/events", None, 200),
        case(Outsider, Method::GET, "/api/federations/{federation}/events", None, 404),
        case(Anonymous, Method::POST, "/api/federations/{federation}/rounds/1/keys", keys(), 401),
        // Seeing a federation is not taking part: only members send round messages.
        case(Owner, Method::POST, "/api/federations/{federation}/rounds/1/keys", keys(), 403),
        case(Other, Method::POST, "/api/federations/{federation}/rounds/1/keys", keys(), 403),
        case(Admin, Method::POST, "/api/federations/{federation}/rounds/1/keys", keys(), 403),
        case(Outsider, Method::POST, "/api/federations/{federation}/rounds/1/keys", keys(), 404),
        case(Anonymous, Method::POST, "/api/federations/{federation}/rounds/1/shares", Some(json!({"envelopes": []})), 401),
        case(Other, Method::POST, "/api/federations/{federation}/rounds/1/shares", Some(json!({"envelopes": []})), 403),
        case(Anonymous, Method::POST, "/api/federations/{federation}/rounds/1/input", Some(json!({"masked": ""})), 401),
        case(Other, Method::POST, "/api/federations/{federation}/rounds/1/input", Some(json!({"masked": ""})), 403),
        case(Outsider, Method::POST, "/api/federations/{federation}/rounds/1/input", Some(json!({"masked": ""})), 404),
        case(Anonymous, Method::POST, "/api/federations/{federation}/rounds/1/reveal", Some(json!({"shares": ""})), 401),
        case(Other, Method::POST, "/api/federations/{federation}/rounds/1/reveal", Some(json!({"shares": ""})), 403),
    ]
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_the_table_says() {
    let mut failures = Vec::new();
    for c in table() {
        // A fresh server per row, so one row's effect (a deletion) cannot change another's.
        let dir = tempfile::tempdir().unwrap();
        // No workers: a job stays queued, so cancelling it is always possible.
        let mut config = server::config::Config::for_tests(dir.path());
        config.jobs.workers = 0;
        let srv = TestServer::start(config).await;
        let admin = srv.user("root").await; // first user: admin
        let alice = srv.user("alice").await;
        let bob = srv.user("bob").await;
        assert_eq!(srv.register("carol", "finance", "trading").await.status(), 201);
        let carol: Value = srv.login("carol", "correct horse battery").await.json().await.unwrap();
        let carol = carol["access_token"].as_str().unwrap().to_owned();
        let iris = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
        let owner_key = srv.owner_key(&alice.access).await;
        let private = srv.seal(&iris, app::table::Format::Csv, Some(&owner_key), 1 << 20).await;
        srv.store_dataset(&alice.access, &private).await;
        let mut shared = srv.seal(&iris, app::table::Format::Csv, Some(&owner_key), 1 << 20).await;
        shared.declared.shared = true;
        srv.store_dataset(&alice.access, &shared).await;
        let token = match c.who {
            Who::Anonymous => None,
            Who::Owner => Some(alice.access.clone()),
            Who::Other => Some(bob.access.clone()),
            Who::Outsider => Some(carol.clone()),
            Who::Admin => Some(admin.access.clone()),
        };
        let body = json!({"dataset_ids": [private.id], "target": "species", "model": {"kind": "tree"}});
        let r = client().post(srv.url("/api/jobs")).bearer_auth(&alice.access).json(&body).send().await.unwrap();
        let job = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let model = store_model(&srv, &alice, &iris).await;
        let r = client().post(srv.url("/api/federations")).bearer_auth(&alice.access).json(&federation_body()).send().await.unwrap();
        let federation = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let fill = |s: &str| {
            s.replace("{owner}", &alice.id)
                .replace("{dataset}", &private.id)
                .replace("{shared}", &shared.id)
                .replace("{job}", &job)
                .replace("{model}", &model)
                .replace("{federation}", &federation)
        };
        let path = fill(c.path);
        let mut req = client().request(c.method.clone(), srv.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &c.body {
            req = req.json(&serde_json::from_str::<Value>(&fill(&b.to_string())).unwrap());
        }
        let status = req.send().await.unwrap().status().as_u16();
        if status != c.expect {
            failures.push(format!("{:?} {} {}: got {status}, want {}", c.who, c.method, c.path, c.expect));
        }
        srv.stop().await;
    }
    assert!(failures.is_empty(), "authorization table mismatches:\n{}", failures.join("\n"));
}

/// A federation on iris: linear regression of one measurement from the others.
fn federation_body() -> Value {
    json!({"name": "petals", "task": {"features": [{"name": "sepal_length_cm", "kind": "numeric"}], "target": "petal_length_cm",
        "model": {"kind": "linear"}}, "rounds": 1, "min_participants": 2, "threshold": 2, "round_timeout_secs": 60})
}

/// A model of alice's, trained here in-process (the harness runs no workers) and stored as the
/// trainer stores one.
async fn store_model(srv: &TestServer, alice: &common::User, iris: &[u8]) -> String {
    let table = app::table::Table::parse(iris, app::table::Format::Csv, &Default::default()).unwrap();
    let spec: app::ml::train::TrainSpec =
        serde_json::from_value(json!({"target": "species", "cv_folds": 2, "model": {"kind": "logistic"}})).unwrap();
    let t = app::ml::train::train(&[&table], &spec, &mut app::ml::model::Quiet).unwrap();
    let artifact = app::model::artifact::ModelArtifact {
        format: app::model::artifact::ARTIFACT_FORMAT.into(),
        version: app::model::artifact::ARTIFACT_VERSION,
        id: hex::encode(rand::random::<[u8; 16]>()),
        job_id: "harness".into(),
        federation: None,
        kind: app::ml::model::ModelKind::Logistic,
        target: t.target,
        labels: t.labels,
        preprocessor: t.preprocessor,
        model: t.model,
        metrics: t.metrics,
        params: t.params,
        datasets: vec![],
        rows: t.rows,
        privacy: t.privacy,
        he: None,
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let owner = server::backend::models::ModelOwner {
        job_title: "",
        owner_id: &alice.id,
        owner: "alice",
        domain: "healthcare",
        subdomain: "oncology",
    };
    srv.backend.models.store(&artifact, owner).await.unwrap().id
}
