//! The model registry over HTTP: versions grouped by task with the best marked, predictions
//! checked against the feature schema, the artifact, deletion, and who may do what.

use crate::common::{client, TestServer};
use app::model::artifact::ModelInfo;
use app::table::Format;
use object_store::ObjectStoreExt;
use serde_json::{json, Value};

async fn predict(srv: &TestServer, token: &str, id: &str, rows: Value) -> reqwest::Response {
    client().post(srv.url(&format!("/api/models/{id}/predict"))).bearer_auth(token).json(&json!({"rows": rows})).send().await.unwrap()
}

#[tokio::test]
async fn versions_predictions_artifacts_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await; // same area
    assert_eq!(srv.register("carol", "finance", "trading").await.status(), 201);
    let carol: Value = srv.login("carol", "correct horse battery").await.json().await.unwrap();
    let carol = carol["access_token"].as_str().unwrap().to_owned();

    // A small table with a categorical and a boolean input.
    let csv =
        "colour,heavy,size,label\nred,true,1.0,a\nblue,false,2.0,b\nred,true,1.2,a\nblue,false,2.2,b\nred,false,0.9,a\nblue,true,2.1,b\n\
               red,true,1.1,a\nblue,false,1.9,b\nred,false,1.0,a\nblue,true,2.3,b\n";
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &s).await;
    let strong =
        srv.train(&alice.access, json!({"dataset_ids": [s.id], "target": "label", "cv_folds": 2, "model": {"kind": "logistic"}})).await;
    let weak = srv
        .train(
            &alice.access,
            json!({"dataset_ids": [s.id], "target": "label", "cv_folds": 2, "features": ["heavy"], "model": {"kind": "logistic"}}),
        )
        .await;
    let also = srv
        .train(
            &alice.access,
            json!({"dataset_ids": [s.id], "target": "label", "cv_folds": 2, "model": {"kind": "logistic", "params": {"alpha": 100.0}}}),
        )
        .await;

    let list: Vec<ModelInfo> = srv.get_as(&alice.access, "/api/models").await.json().await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0].id, *also.model_id.as_ref().unwrap(), "newest first");
    let by = |id: &Option<String>| list.iter().find(|m| Some(&m.id) == id.as_ref()).unwrap().clone();
    let (strong_m, weak_m, also_m) = (by(&strong.model_id), by(&weak.model_id), by(&also.model_id));
    assert_eq!(strong_m.task, also_m.task, "same target and inputs: versions of one task");
    assert_ne!(strong_m.task, weak_m.task, "other inputs: another task");
    assert!(weak_m.best, "alone in its task");
    assert_eq!(strong_m.best as u8 + also_m.best as u8, 1, "one best per task");
    let filtered: Vec<ModelInfo> = srv.get_as(&alice.access, "/api/models?kind=forest").await.json().await.unwrap();
    assert!(filtered.is_empty());
    let filtered: Vec<ModelInfo> = srv.get_as(&alice.access, &format!("/api/models?dataset={}", s.id)).await.json().await.unwrap();
    assert_eq!(filtered.len(), 3);

    let id = strong_m.id.clone();
    let r = predict(
        &srv,
        &bob.access,
        &id,
        json!([{"colour": "red", "heavy": true, "size": 1.0}, {"colour": "blue", "heavy": null, "size": "2.1", "label": "ignored"}]),
    )
    .await;
    assert_eq!(r.status(), 200, "a colleague in the area may predict");
    // The server's split of its time (docs/api.md): the session layer's step, then the route's.
    let timing: Vec<String> = r
        .headers()
        .get_all("server-timing")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(", ").map(|e| e.split(";dur=").next().unwrap().to_owned()).collect::<Vec<_>>())
        .collect();
    assert_eq!(timing, ["authz", "open", "model", "audit", "auth"], "{:?}", r.headers());
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["predictions"][0]["label"], "a");
    assert_eq!(p["predictions"][1]["label"], "b");
    let probs = p["predictions"][0]["probabilities"].as_object().unwrap();
    assert!((probs.values().map(|v| v.as_f64().unwrap()).sum::<f64>() - 1.0).abs() < 1e-9);

    for (rows, field, text) in [
        (
            json!([{"colour": "red", "heavy": true, "size": 1.0}, {"colour": "red", "heavy": true}]),
            "rows[1].size",
            "row 2, field “size”: missing",
        ),
        (json!([{"colour": "green", "heavy": true, "size": 1.0}]), "rows[0].colour", "unknown category “green”; the model knows blue, red"),
        (json!([{"colour": "red", "heavy": "yes", "size": 1.0}]), "rows[0].heavy", "expected true or false"),
        (json!([{"colour": "red", "heavy": true, "size": "big"}]), "rows[0].size", "expected a number, found “big”"),
        (json!([]), "rows", "at least one row"),
    ] {
        let r = predict(&srv, &alice.access, &id, rows.clone()).await;
        assert_eq!(r.status(), 422, "{rows}");
        let e: app::model::ApiError = r.json().await.unwrap();
        let msg = e.field_message(field).unwrap_or_else(|| panic!("{rows}: {e:?}"));
        assert!(msg.contains(text), "{field}: {msg}");
    }

    // The artifact: owner yes, colleague no, outsider cannot even see it.
    let r = srv.get_as(&alice.access, &format!("/api/models/{id}/artifact")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&id));
    let artifact: Value = r.json().await.unwrap();
    assert_eq!((artifact["format"].as_str(), artifact["version"].as_u64()), (Some("cipherfold-model"), Some(1)));
    assert_eq!(srv.get_as(&bob.access, &format!("/api/models/{id}/artifact")).await.status(), 403);
    assert_eq!(srv.get_as(&carol, &format!("/api/models/{id}")).await.status(), 404);
    assert_eq!(predict(&srv, &carol, &id, json!([{}])).await.status(), 404);
    let carol_list: Vec<ModelInfo> = srv.get_as(&carol, "/api/models").await.json().await.unwrap();
    assert!(carol_list.is_empty());

    let del = |token: String| client().delete(srv.url(&format!("/api/models/{id}"))).bearer_auth(token).send();
    assert_eq!(del(bob.access.clone()).await.unwrap().status(), 403);
    assert_eq!(del(alice.access.clone()).await.unwrap().status(), 204);
    assert_eq!(srv.get_as(&alice.access, &format!("/api/models/{id}")).await.status(), 404);
    let gone = srv.backend.store.head(&server::backend::models::model_path(&id)).await;
    assert!(matches!(gone, Err(object_store::Error::NotFound { .. })), "the sealed object is deleted too");
    let list: Vec<ModelInfo> = srv.get_as(&alice.access, "/api/models").await.json().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|m| m.best), "with the deleted version gone, each remaining one is its task's best");
    srv.stop().await;
}

/// A stored model that no longer opens (its sealed bytes damaged at rest) is a 500 whose body
/// says nothing of the crypto or serde failure behind it; the details go to the server's log.
#[tokio::test]
async fn a_damaged_model_is_an_opaque_500() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let csv = "x,label\n1,a\n2,b\n1.1,a\n2.1,b\n0.9,a\n2.2,b\n";
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &s).await;
    let job =
        srv.train(&alice.access, json!({"dataset_ids": [s.id], "target": "label", "cv_folds": 2, "model": {"kind": "logistic"}})).await;
    let id = job.model_id.expect("a model");
    // Damage the sealed artifact before anything has opened (and cached) it.
    let path = server::backend::models::model_path(&id);
    let mut sealed = srv.backend.store.get(&path).await.unwrap().bytes().await.unwrap().to_vec();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    srv.backend.store.put(&path, sealed.into()).await.unwrap();

    let r = predict(&srv, &alice.access, &id, json!([{"x": 1.0}])).await;
    assert_eq!(r.status(), 500);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "internal", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("try again"), "{message}");
    for leak in ["tag", "decrypt", "chunk", "aead", "expected", "line"] {
        assert!(!message.to_lowercase().contains(leak), "the answer names the failure ({leak}): {message}");
    }
    srv.stop().await;
}

/// 10,000 rows of 20 features (4.7 MB of JSON, past the 2 MiB JSON default) are one request;
/// a body past the route's limit is a 413, through the REST route and the page's server
/// function alike, and the server keeps answering.
#[tokio::test]
async fn the_largest_prediction_fits_and_a_larger_body_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let alice = srv.user("alice").await;
    let names: Vec<String> = (0..20).map(|j| format!("feature_{j:02}")).collect();
    let mut csv = format!("{},label\n", names.join(","));
    for i in 0..40 {
        let cells: Vec<String> = (0..20).map(|j| format!("{:.6}", ((i * 7 + j * 3) % 11) as f64 / 11.0 + 0.123456)).collect();
        csv.push_str(&format!("{},{}\n", cells.join(","), if i % 2 == 0 { "a" } else { "b" }));
    }
    let s = srv.seal(csv.as_bytes(), Format::Csv, None, 4096).await;
    srv.store_dataset(&alice.access, &s).await;
    let job = srv.train(&alice.access, json!({"dataset_ids": [s.id], "target": "label", "model": {"kind": "logistic"}})).await;
    let id = job.model_id.expect("a model");
    let row: serde_json::Map<String, Value> = names.iter().map(|n| (n.clone(), json!(0.123456789012))).collect();
    let rows = vec![Value::Object(row); app::model::artifact::MAX_PREDICT_ROWS];
    let body = serde_json::to_vec(&json!({ "rows": rows })).unwrap();
    assert!(body.len() > 4 << 20, "{} bytes", body.len());
    let r = predict(&srv, &alice.access, &id, Value::Array(rows)).await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["predictions"].as_array().unwrap().len(), app::model::artifact::MAX_PREDICT_ROWS);

    // Past the limit: one string longer than the whole allowance.
    let huge = json!({"rows": [{"feature_00": "x".repeat(app::model::artifact::MAX_PREDICT_BODY)}]});
    let r = predict(&srv, &alice.access, &id, huge["rows"].clone()).await;
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "too_large", "{e}");
    let r = client()
        .post(srv.url("/api/ui/predict"))
        .bearer_auth(&alice.access)
        .json(&json!({"id": id, "rows": huge["rows"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        predict(&srv, &alice.access, &id, json!([Value::Object(names.iter().map(|n| (n.clone(), json!(0.5))).collect())])).await.status(),
        200
    );
    srv.stop().await;
}
