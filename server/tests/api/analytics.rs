//! The area dashboard and system health over HTTP, from real jobs, models and datasets.

use crate::common;
use crate::common::TestServer;
use app::model::analytics::{Dashboard, SystemHealth};
use app::table::Format;
use serde_json::json;

#[tokio::test]
async fn the_dashboard_counts_history_quality_contributions_and_joint_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let admin = srv.user("root").await;
    let alice = srv.user("alice").await;
    let bob = srv.user("bob").await;
    let iris = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
    let a = srv.seal(&iris, Format::Csv, None, 1 << 20).await;
    srv.store_dataset(&alice.access, &a).await;
    let mut b = srv.seal(&iris, Format::Csv, None, 1 << 20).await;
    b.declared.shared = true;
    srv.store_dataset(&bob.access, &b).await;
    let r = common::client()
        .put(srv.url(&format!("/api/datasets/{}/consent", b.id)))
        .bearer_auth(&bob.access)
        .json(&json!({"allow": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.train(&alice.access, json!({"dataset_ids": [a.id], "target": "species", "model": {"kind": "logistic"}})).await;
    srv.train(
        &alice.access,
        json!({"dataset_ids": [a.id, b.id], "target": "species", "model": {"kind": "forest", "params": {"trees": 10}}}),
    )
    .await;

    let d: Dashboard = srv.get_as(&alice.access, "/api/analytics").await.json().await.unwrap();
    assert_eq!((d.domain.as_str(), d.subdomain.as_str()), ("healthcare", "oncology"));
    assert_eq!(d.history.iter().filter(|h| h.status == "succeeded").map(|h| h.jobs).sum::<u64>(), 2);
    assert_eq!(d.models.len(), 2);
    assert!(d.models.iter().all(|m| m.metric == "accuracy" && m.score > 0.85), "{:?}", d.models);
    let who = |name: &str| d.contributions.iter().find(|c| c.user == name).cloned().unwrap();
    let (ca, cb) = (who("alice"), who("bob"));
    assert_eq!((ca.datasets, ca.rows, ca.jobs, ca.models), (1, 150, 2, 2));
    assert_eq!((cb.datasets, cb.rows, cb.jobs, cb.models), (1, 150, 0, 0));
    assert_eq!(d.collaborations.len(), 1);
    assert_eq!(d.collaborations[0].participants, ["alice", "bob"]);
    assert_eq!(d.collaborations[0].started_by, "alice");

    let body = srv.get_as(&admin.access, "/api/health/system").await.text().await.unwrap();
    let h: SystemHealth = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(h.memory_total > 0 && h.memory_used <= h.memory_total, "{h:?}");
    assert!(h.disk_total > 0 && h.disk_free <= h.disk_total, "{h:?}");
    assert_eq!((h.queued_jobs, h.running_jobs, h.workers), (0, 0, 1));
    assert_eq!(h.finished_last_hour, 2);
    srv.stop().await;
}
