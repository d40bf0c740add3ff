//! Federated rounds over HTTP against the real server: participants in this process speak
//! the protocol with `app::fl::client` (as the CLI and the browser do). What the server stores
//! is read straight from its database while the rounds run, to check that no stored vector is
//! a participant's update and that the aggregate is the plain weighted mean of the updates.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use app::fl::client::{Client, Outgoing};
use app::fl::masks::sum;
use app::fl::plan::{self, Known};
use app::fl::train::{FlTask, LocalData};
use app::fl::wire;
use app::model::federation::{FederationStatus, Phase, RoundView, Stage};
use app::table::{Format, ParseOptions, Table};

use crate::common::{client, TestServer, User};

pub fn iris() -> Table {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
    Table::parse(&bytes, Format::Csv, &ParseOptions::default()).unwrap()
}

pub fn iris_federation(rounds: u32, min: u16, threshold: u16) -> Value {
    json!({
        "name": "iris across labs",
        "task": {
            "features": [
                {"name": "sepal_length_cm", "kind": "numeric"}, {"name": "sepal_width_cm", "kind": "numeric"},
                {"name": "petal_length_cm", "kind": "numeric"}, {"name": "petal_width_cm", "kind": "numeric"}
            ],
            "target": "species",
            "labels": ["setosa", "versicolor", "virginica"],
            "model": {"kind": "logistic", "alpha": 0.0, "epochs": 5, "learning_rate": 1.0, "batch_size": 1024}
        },
        "rounds": rounds, "min_participants": min, "threshold": threshold, "round_timeout_secs": 10
    })
}

fn part(t: &Table, of: usize, n: usize) -> Table {
    t.select(&(of..t.len()).step_by(n).collect::<Vec<_>>())
}

pub async fn post(srv: &TestServer, token: &str, path: &str, body: Value) -> reqwest::Response {
    client().post(srv.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

pub async fn view(srv: &TestServer, token: &str, id: &str) -> RoundView {
    let r = srv.get_as(token, &format!("/api/federations/{id}/round")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub async fn send(srv: &TestServer, token: &str, id: &str, out: &Outgoing) -> reqwest::Response {
    let path = format!("/api/federations/{id}/rounds/{}/{}", out.round, out.stage.as_str());
    let body: Value = serde_json::from_str(&out.body().unwrap()).unwrap();
    post(srv, token, &path, body).await
}

struct Member {
    user: User,
    client: Client,
    table: Table,
    seed: u64,
    /// Stops taking part at this stage of the first round (a dropout), if set.
    drop_at: Option<Stage>,
}

/// Members holding iris's rows round-robin (`i % users.len()`), participant `i` seeded `seed + i`
/// and dropping out at `drops[i]` in the first round (none if `drops` is shorter).
fn members(users: Vec<User>, id: &str, task: &FlTask, seed: u64, drops: &[Option<Stage>]) -> Vec<Member> {
    let (iris, n) = (iris(), users.len());
    users
        .into_iter()
        .enumerate()
        .map(|(i, user)| Member {
            client: Client::with_seed(id.to_owned(), task.clone(), seed + i as u64),
            seed: seed + i as u64,
            table: part(&iris, i, n),
            user,
            drop_at: drops.get(i).copied().flatten(),
        })
        .collect()
}

async fn federation(srv: &TestServer, owner: &User, body: Value, members: &[&User]) -> (String, FlTask) {
    let r = post(srv, &owner.access, "/api/federations", body).await;
    assert_eq!(r.status(), 201);
    let fed: Value = r.json().await.unwrap();
    let id = fed["id"].as_str().unwrap().to_owned();
    for m in members {
        assert_eq!(post(srv, &m.access, &format!("/api/federations/{id}/join"), json!({})).await.status(), 200);
    }
    (id, serde_json::from_value(fed["task"].clone()).unwrap())
}

/// The stored masked inputs of a round, by sender.
async fn stored_inputs(srv: &TestServer, id: &str, round: u32, len: usize) -> Vec<(i64, Vec<u64>)> {
    let mut r = srv
        .backend
        .db
        .query(
            "SELECT VALUE sender FROM fl_message WHERE federation = $id AND round = $r AND stage = 'input' ORDER BY sender;
             SELECT VALUE body FROM fl_message WHERE federation = $id AND round = $r AND stage = 'input' ORDER BY sender",
        )
        .bind(("id", id.to_owned()))
        .bind(("r", i64::from(round)))
        .await
        .unwrap();
    let senders: Vec<i64> = r.take(0).unwrap();
    let bodies: Vec<String> = r.take(1).unwrap();
    senders.into_iter().zip(bodies).map(|(s, b)| (s, wire::words("masked", &b, len).unwrap())).collect()
}

/// What each member would send in `phase` in the clear (its seed makes local training
/// reproducible), encoded.
fn true_updates(task: &FlTask, phase: Phase, known: &Known, members: &[(&Member, LocalData)]) -> Vec<Vec<u64>> {
    members
        .iter()
        .map(|(m, data)| {
            let c = plan::contribution(task, phase, known, data, m.seed).unwrap();
            c.encoding.encode(&c.values, c.rows).unwrap().values
        })
        .collect()
}

/// Runs the members until `done` says so, checking every round at its reveal stage: each
/// stored masked vector differs from every true update, and the aggregate the server then
/// publishes is the plain weighted mean of the updates of those who sent input.
async fn run(srv: &TestServer, id: &str, task: &FlTask, members: &mut [Member], done: impl Fn(&RoundView) -> bool) -> RoundView {
    let tables: Vec<Table> = members.iter().map(|m| m.table.clone()).collect();
    let datas: Vec<LocalData> = tables.iter().map(|t| task.local(t).unwrap()).collect();
    let mut checked = BTreeSet::new();
    let mut expected: Option<(u32, Phase, Vec<f64>, u64)> = None;
    let mut first_round = None;
    for _ in 0..2000 {
        for i in 0..members.len() {
            let v = view(srv, &members[i].user.access, id).await;
            if let Some((round, phase, means, rows)) = &expected {
                if v.results.iter().any(|r| r.round == *round) {
                    let tolerance = 2f64.powi(-(plan::encoding(task, *phase).scale_bits as i32));
                    let got = match phase {
                        Phase::Statistics => v.means.clone().unwrap(),
                        Phase::Train { .. } => v.params.clone().unwrap(),
                        Phase::Evaluate => {
                            assert_eq!(v.results.last().unwrap().metrics, Some(task.metrics(means, *rows).unwrap()));
                            means.clone()
                        }
                    };
                    for (g, w) in got.iter().zip(means) {
                        assert!((g - w).abs() <= tolerance, "round {round}: the aggregate {g} differs from the plain mean {w}");
                    }
                    expected = None;
                }
            }
            if done(&v) {
                return v;
            }
            assert!(v.failure.is_none(), "{:?}", v.failure);
            let Some(r) = v.round.clone() else { continue };
            first_round.get_or_insert(r.round);
            // A private federation's updates carry noise drawn afresh: there is no plain mean to
            // compare with.
            if r.stage == Stage::Reveal && task.privacy.is_none() && checked.insert(r.round) {
                let known = Known { means: v.means.clone(), params: v.params.clone(), ..Known::default() };
                let stored = stored_inputs(srv, id, r.round, r.vector_len as usize).await;
                let senders: Vec<usize> = stored.iter().map(|(s, _)| *s as usize - 1).collect();
                let pairs: Vec<(&Member, LocalData)> = senders.iter().map(|&s| (&members[s], task.local(&tables[s]).unwrap())).collect();
                let truth = true_updates(task, r.phase, &known, &pairs);
                for (sender, masked) in &stored {
                    for t in &truth {
                        let same = masked.iter().zip(t).filter(|(a, b)| a == b).count();
                        assert!(same <= 1, "participant {sender}'s stored vector matches a true update in {same} places");
                    }
                }
                let (means, rows) = plan::encoding(task, r.phase).decode(&sum(&truth)).unwrap();
                expected = Some((r.round, r.phase, means, rows));
                break;
            }
            let m = &mut members[i];
            if Some(r.round) == first_round && m.drop_at.is_some_and(|s| r.stage >= s) {
                continue;
            }
            match m.client.next(&v, &datas[i]) {
                Ok(Some(out)) => {
                    let resp = send(srv, &m.user.access, id, &out).await;
                    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
                }
                Ok(None) => {}
                Err(e) => eprintln!("participant {} sits round {} out: {e}", i + 1, r.round),
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the federation did not get there");
}

#[tokio::test]
async fn three_participants_train_a_model_from_updates_the_server_never_saw() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await];
    let (id, task) = federation(&srv, &owner, iris_federation(3, 3, 2), &users.iter().collect::<Vec<_>>()).await;
    let iris = iris();
    let mut members = members(users.into(), &id, &task, 7, &[]);
    let end = run(&srv, &id, &task, &mut members, |v| v.status == FederationStatus::Finished).await;

    // Statistics, three training steps, the evaluation: five aggregated rounds of 150 rows.
    let phases: Vec<Phase> = end.results.iter().map(|r| r.phase).collect();
    assert_eq!(phases, [Phase::Statistics, Phase::Train { step: 1 }, Phase::Train { step: 2 }, Phase::Train { step: 3 }, Phase::Evaluate]);
    assert!(end.results.iter().all(|r| r.participants == 3 && r.rows == 150));
    let accuracy = end.results.last().unwrap().metrics.as_ref().unwrap().score();
    assert!(accuracy >= 0.9, "final accuracy {accuracy}");

    // The model is a version in the registry, from the federation, and predicts.
    let model_id = end.model_id.unwrap();
    let info: Value = srv.get_as(&owner.access, &format!("/api/models/{model_id}")).await.json().await.unwrap();
    assert_eq!(info["federation"], id.as_str());
    assert_eq!(info["kind"], "logistic");
    let rows: Vec<Value> = (0..150)
        .step_by(10)
        .map(|r| {
            let row = &iris.row(r);
            json!({"sepal_length_cm": row[0].to_string(), "sepal_width_cm": row[1].to_string(),
                   "petal_length_cm": row[2].to_string(), "petal_width_cm": row[3].to_string()})
        })
        .collect();
    let r = post(&srv, &owner.access, &format!("/api/models/{model_id}/predict"), json!({"rows": rows})).await;
    assert_eq!(r.status(), 200);
    let predicted: Value = r.json().await.unwrap();
    let right = (0..150)
        .step_by(10)
        .zip(predicted["predictions"].as_array().unwrap())
        .filter(|(r, p)| p["label"] == iris.cell(*r, 4).to_string())
        .count();
    assert!(right >= 13, "{right} of 15 right");

    // The event stream replays everything and ends with the model.
    let text = srv.get_as(&users_token(&members), &format!("/api/federations/{id}/events")).await.text().await.unwrap();
    assert_eq!(text.matches("event: aggregated").count(), 5, "{text}");
    assert!(text.trim_end().ends_with(&format!("\"model_id\":\"{model_id}\"}}}}")), "{text}");
    let resumed = client()
        .get(srv.url(&format!("/api/federations/{id}/events")))
        .bearer_auth(users_token(&members))
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(resumed.starts_with("id: 4\n"), "{resumed}");

    // Nothing of a finished round's messages is kept; every step is in the audit log.
    let mut r = srv.backend.db.query("SELECT VALUE sender FROM fl_message").await.unwrap();
    let left: Vec<i64> = r.take(0).unwrap();
    assert!(left.is_empty(), "{left:?}");
    let mut r = srv.backend.db.query("SELECT VALUE action FROM audit WHERE target = $id").bind(("id", id.clone())).await.unwrap();
    let actions: Vec<String> = r.take(0).unwrap();
    for a in [
        "federation.create",
        "federation.join",
        "federation.round.keys",
        "federation.round.shares",
        "federation.round.input",
        "federation.round.reveal",
        "federation.finish",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
    srv.stop().await;
}

fn users_token(members: &[Member]) -> String {
    members[0].user.access.clone()
}

#[tokio::test]
async fn dropouts_before_the_input_and_before_the_reveal_leave_a_correct_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await, srv.user("dan").await];
    let (id, task) = federation(&srv, &owner, iris_federation(1, 3, 2), &users.iter().collect::<Vec<_>>()).await;
    let mut members = members(users.into(), &id, &task, 0, &[Some(Stage::Input), Some(Stage::Reveal)]);
    // `run` checks the statistics' aggregate against the plain mean of the three who sent input.
    let end = run(&srv, &id, &task, &mut members, |v| !v.results.is_empty()).await;
    let first = &end.results[0];
    assert_eq!((first.phase, first.participants), (Phase::Statistics, 3));
    srv.stop().await;
}

/// A view is one state of the federation: taken while rounds close, it never pairs a result
/// with the means or parameters from before it, nor shows a round that has already ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_view_taken_while_rounds_close_shows_one_state() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await];
    let (id, task) = federation(&srv, &owner, iris_federation(3, 3, 2), &users.iter().collect::<Vec<_>>()).await;
    let mut members = members(users.into(), &id, &task, 3, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Four watchers, so that views are being taken whenever a round closes.
    let watchers: Vec<_> = (0..4)
        .map(|_| {
            let (url, token, stop) = (srv.url(&format!("/api/federations/{id}/round")), owner.access.clone(), stop.clone());
            tokio::spawn(async move {
                let mut views: Vec<RoundView> = vec![];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = client().get(&url).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(r.status(), 200);
                    views.push(r.json().await.unwrap());
                }
                views
            })
        })
        .collect();
    run(&srv, &id, &task, &mut members, |v| v.status == FederationStatus::Finished).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut views = vec![];
    for w in watchers {
        views.extend(w.await.unwrap());
    }
    assert!(views.len() >= 20, "only {} views taken", views.len());
    // The state after k results is one state: every view with k results shows the same means
    // and parameters, and any open round comes after the last result.
    let mut after = std::collections::BTreeMap::new();
    for v in &views {
        let state = after.entry(v.results.len()).or_insert((&v.means, &v.params));
        assert_eq!(*state, (&v.means, &v.params), "{} results: views disagree: {v:?}", v.results.len());
        assert_eq!(v.means.is_some(), v.results.iter().any(|r| r.phase == Phase::Statistics), "{v:?}");
        if let (Some(r), Some(last)) = (&v.round, v.results.last()) {
            assert!(r.round > last.round, "round {} is open beside the result of round {}", r.round, last.round);
        }
    }
    assert!(after.len() >= 4, "the views saw only {:?} result counts", after.keys().collect::<Vec<_>>());
    srv.stop().await;
}

#[tokio::test]
async fn wrong_late_repeated_and_foreign_messages_are_refused_and_the_round_stays_correct() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await];
    let stranger = srv.user("eve").await;
    assert_eq!(srv.register("fin", "finance", "trading").await.status(), 201);
    let outsider: Value = srv.login("fin", "correct horse battery").await.json().await.unwrap();
    let outsider = outsider["access_token"].as_str().unwrap().to_owned();
    let (id, task) = federation(&srv, &owner, iris_federation(1, 3, 2), &users.iter().collect::<Vec<_>>()).await;
    let iris = iris();
    let tables: Vec<Table> = (0..3).map(|i| part(&iris, i, 3)).collect();
    let datas: Vec<LocalData> = tables.iter().map(|t| task.local(t).unwrap()).collect();
    let mut clients: Vec<Client> = (0..3).map(|i| Client::with_seed(id.clone(), task.clone(), i)).collect();
    let url = |round: u32, stage: &str| format!("/api/federations/{id}/rounds/{round}/{stage}");
    let refusal = |r: reqwest::Response| async move { (r.status().as_u16(), r.json::<Value>().await.unwrap()) };

    // Round 1, keys: outsiders and non-members, another round, another stage, a short key.
    let a = &users[0].access;
    let v = view(&srv, a, &id).await;
    let keys = match clients[0].next(&v, &datas[0]).unwrap().unwrap().message {
        app::fl::client::Message::Keys(k) => serde_json::to_value(k).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(post(&srv, &outsider, &url(1, "keys"), keys.clone()).await.status(), 404);
    assert_eq!(post(&srv, &stranger.access, &url(1, "keys"), keys.clone()).await.status(), 403);
    let (code, body) = refusal(post(&srv, a, &url(9, "keys"), keys.clone()).await).await;
    assert_eq!((code, body["message"].as_str().unwrap()), (409, "round 9 is not open; round 1 is"));
    let (code, body) = refusal(post(&srv, a, &url(1, "input"), json!({"masked": ""})).await).await;
    assert_eq!((code, body["message"].as_str().unwrap()), (409, "round 1 is at its keys stage, not input"));
    let mut short = keys.clone();
    short["mask_public"] = json!("AAAA");
    let (code, body) = refusal(post(&srv, a, &url(1, "keys"), short).await).await;
    assert_eq!(code, 422);
    assert!(body["fields"]["keys"].as_str().unwrap().contains("mask_public: must be 32 bytes"), "{body}");
    assert_eq!(post(&srv, a, &url(1, "keys"), keys.clone()).await.status(), 200);
    let (code, body) = refusal(post(&srv, a, &url(1, "keys"), keys).await).await;
    assert_eq!((code, body["message"].as_str().unwrap()), (409, "participant 1 already sent its keys for round 1"));
    for i in 1..3 {
        let v = view(&srv, &users[i].access, &id).await;
        let out = clients[i].next(&v, &datas[i]).unwrap().unwrap();
        assert_eq!(send(&srv, &users[i].access, &id, &out).await.status(), 200);
    }

    // Shares: an envelope list that leaves someone out; then participant 3 sends garbage
    // envelopes the server cannot tell from real ones.
    let v = view(&srv, a, &id).await;
    assert_eq!(v.round.as_ref().unwrap().stage, Stage::Shares);
    let out = clients[0].next(&v, &datas[0]).unwrap().unwrap();
    let mut body: Value = serde_json::from_str(&out.body().unwrap()).unwrap();
    let full = body.clone();
    body["envelopes"].as_array_mut().unwrap().pop();
    let (code, refused) = refusal(post(&srv, a, &url(1, "shares"), body).await).await;
    assert_eq!(code, 422);
    assert_eq!(refused["fields"]["envelopes"], "send one envelope to each other member of the roster (2, 3), each once");
    assert_eq!(post(&srv, a, &url(1, "shares"), full).await.status(), 200);
    let v = view(&srv, &users[1].access, &id).await;
    let out = clients[1].next(&v, &datas[1]).unwrap().unwrap();
    assert_eq!(send(&srv, &users[1].access, &id, &out).await.status(), 200);
    let garbage = wire::envelope_text(&[7u8; app::fl::shares::SEALED_LEN]);
    let forged = json!({"envelopes": [{"peer": 1, "sealed": garbage}, {"peer": 2, "sealed": garbage}]});
    assert_eq!(post(&srv, &users[2].access, &url(1, "shares"), forged).await.status(), 200);

    // Input: participants 1 and 2 refuse the envelope that does not open and sit the round
    // out; a vector of the wrong length is refused. With one input at most, the round is
    // abandoned at its deadline and reopened as round 2, never aggregated.
    for i in 0..2 {
        let v = view(&srv, &users[i].access, &id).await;
        let e = clients[i].next(&v, &datas[i]).unwrap_err().to_string();
        assert!(e.contains("envelope"), "{e}");
    }
    let len = view(&srv, a, &id).await.round.unwrap().vector_len as usize;
    let (code, refused) =
        refusal(post(&srv, &users[2].access, &url(1, "input"), json!({"masked": wire::words_text(&vec![0; len - 1])})).await).await;
    assert_eq!(code, 422);
    assert!(refused["fields"]["masked"].as_str().unwrap().contains(&format!("this round's vector is {len} words")), "{refused}");
    let mut reopened = None;
    for _ in 0..300 {
        let v = view(&srv, a, &id).await;
        if let Some(r) = v.round.filter(|r| r.round == 2) {
            reopened = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = reopened.expect("round 2 opens after the deadline");
    assert_eq!((r.phase, r.stage), (Phase::Statistics, Stage::Keys));
    let v = view(&srv, a, &id).await;
    assert!(v.results.is_empty(), "nothing was aggregated from the abandoned round");

    // Round 2 with everyone honest: a garbage reveal is refused, the real one accepted, and
    // the statistics equal the plain mean (checked by `run`).
    let mut members: Vec<Member> = users
        .into_iter()
        .enumerate()
        .map(|(i, user)| Member { client: clients.remove(0), seed: i as u64, table: tables[i].clone(), user, drop_at: None })
        .collect();
    let end = run(&srv, &id, &task, &mut members, |v| {
        v.round.as_ref().is_some_and(|r| r.stage == Stage::Reveal && r.received == 0) || !v.results.is_empty()
    })
    .await;
    if end.results.is_empty() {
        let token = &members[0].user.access;
        let (code, refused) = refusal(post(&srv, token, &url(2, "reveal"), json!({"shares": wire::envelope_text(&[1u8; 37])})).await).await;
        assert_eq!(code, 422, "{refused}");
        assert!(refused["fields"]["shares"].is_string(), "{refused}");
    }
    let end = run(&srv, &id, &task, &mut members, |v| !v.results.is_empty()).await;
    assert_eq!((end.results[0].round, end.results[0].participants), (2, 3));
    srv.stop().await;
}

#[tokio::test]
async fn a_small_network_trains_by_fedavg_and_predicts_from_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await];
    let mut body = iris_federation(4, 3, 2);
    // The server draws the network's first weights at random: with 5 epochs a round, 5 of 300
    // draws ended below 0.85 after four rounds; with 20 the lowest of 300 was 0.953.
    body["task"]["model"] = json!({"kind": "mlp", "hidden": [16], "epochs": 20, "learning_rate": 0.1, "batch_size": 16});
    let (id, task) = federation(&srv, &owner, body, &users.iter().collect::<Vec<_>>()).await;
    let mut members = members(users.into(), &id, &task, 3, &[]);
    // `run` checks each round's aggregate against the plain mean of the true updates.
    let end = run(&srv, &id, &task, &mut members, |v| v.status == FederationStatus::Finished).await;
    let accuracy = end.results.last().unwrap().metrics.as_ref().unwrap().score();
    assert!(accuracy >= 0.9, "final accuracy {accuracy}");
    let model_id = end.model_id.unwrap();
    let info: Value = srv.get_as(&owner.access, &format!("/api/models/{model_id}")).await.json().await.unwrap();
    assert_eq!((info["kind"].as_str(), info["federation"].as_str()), (Some("dqn"), Some(id.as_str())));
    let row = json!({"sepal_length_cm": 6.7, "sepal_width_cm": 3.0, "petal_length_cm": 5.2, "petal_width_cm": 2.3});
    let r = post(&srv, &owner.access, &format!("/api/models/{model_id}/predict"), json!({"rows": [row]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["predictions"][0]["label"], "virginica");
    srv.stop().await;
}

/// A private federation with central noise and sampling (q = 0.6 of three members, t = 2):
/// only sampled members take part in a training round, a sample below the threshold is a
/// skipped round the accountant still counts, and what the federation reports spent (its
/// info, the last round's ε, the model's record, every ledger) is the accountant's figure for
/// (q, σ, the six training steps).
#[tokio::test]
async fn a_sampled_private_federation_counts_every_step_and_ledgers_add_up() {
    use app::model::federation::FederationEvent;
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::in_memory(dir.path()).await;
    let owner = srv.user("owner").await;
    let users = [srv.user("ana").await, srv.user("ben").await, srv.user("cho").await];
    let (q, sigma, delta) = (0.6, 1.5, 1e-5);
    let mut body = iris_federation(6, 3, 2);
    body["task"]["privacy"] =
        json!({"clip_norm": 2.0, "noise_multiplier": sigma, "noise": "central", "sampling_rate": q, "epsilon": 50.0, "delta": delta});
    let (id, task) = federation(&srv, &owner, body, &users.iter().collect::<Vec<_>>()).await;
    let mut members = members(users.into(), &id, &task, 11, &[]);
    let end = run(&srv, &id, &task, &mut members, |v| v.status == FederationStatus::Finished).await;
    let expected = app::dp::accountant::epsilon(q, sigma, 6, delta).unwrap();
    let info: Value = srv.get_as(&owner.access, &format!("/api/federations/{id}")).await.json().await.unwrap();
    assert!((info["epsilon"].as_f64().unwrap() - expected).abs() < 1e-12, "{info}");
    let model: Value = srv.get_as(&owner.access, &format!("/api/models/{}", end.model_id.unwrap())).await.json().await.unwrap();
    assert_eq!(model["privacy"]["steps"], 6, "{model}");
    // Skipped rounds and aggregated training rounds make the six steps.
    let mut r = srv
        .backend
        .db
        .query("SELECT VALUE event FROM federation_event WHERE federation = $id ORDER BY seq")
        .bind(("id", id.clone()))
        .await
        .unwrap();
    let events: Vec<Value> = r.take(0).unwrap();
    let events: Vec<FederationEvent> = events.into_iter().map(|e| serde_json::from_value(e).unwrap()).collect();
    let skipped = events.iter().filter(|e| matches!(e, FederationEvent::Skipped { .. })).count();
    let trained: Vec<&app::model::federation::RoundResult> =
        end.results.iter().filter(|r| matches!(r.phase, Phase::Train { .. })).collect();
    assert_eq!(skipped + trained.len(), 6, "{events:?}");
    assert!(trained.windows(2).all(|w| w[1].epsilon > w[0].epsilon), "ε grows");
    // Every ledger lists the rounds that used its update; together they are the participants.
    let mut taken = 0;
    for m in &members {
        let v = view(&srv, &m.user.access, &id).await;
        let ledger = v.privacy.expect("a member has a ledger");
        assert!((ledger.epsilon - expected).abs() < 1e-12 && ledger.rounds == 6, "{ledger:?}");
        let own = app::dp::accountant::epsilon(1.0, sigma, ledger.contributed.len() as u64, delta).unwrap_or(0.0);
        assert!(ledger.contributed.is_empty() || (ledger.epsilon_if_known - own).abs() < 1e-12, "{ledger:?}");
        assert!(ledger.contributed.iter().all(|r| trained.iter().any(|t| t.round == *r)), "{ledger:?}");
        taken += ledger.contributed.len();
    }
    assert_eq!(taken, trained.iter().map(|t| t.participants as usize).sum::<usize>());
    // Someone who is not a member has no ledger.
    let outsider = srv.user("dan").await;
    assert!(view(&srv, &outsider.access, &id).await.privacy.is_none());
    srv.stop().await;
}
