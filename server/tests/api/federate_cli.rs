//! `cipherfold federate` as participants run it: five real processes against the real server
//! binary. One is killed (SIGKILL) after sending its shares and before its input, one after
//! its input and before revealing; the server itself is killed and restarted mid-federation.
//! The survivors finish, the round with the dropouts aggregates over the four inputs, and
//! the model predicts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{client, Remote};
use crate::federated::iris_federation;
use crate::process::{cipherfold, spawn_on};

struct Participant {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Participant {
    /// `cipherfold federate` for user `name` with the rows in `data`, both output streams read.
    fn spawn(addr: &str, federation: &str, name: &str, data: &std::path::Path, poll_ms: u64) -> Participant {
        let mut c = cipherfold();
        c.args(["federate", "--server", &format!("http://{addr}"), "--federation", federation, "--username", name, "--data"])
            .arg(data)
            .args(["--poll-ms", &poll_ms.to_string()])
            .env("CIPHERFOLD_PASSWORD", "correct horse battery")
            .stdout(Stdio::piped());
        c.stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        // Both streams, so that an error line shows in a failure's transcript.
        let err_tx = tx.clone();
        let err = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                if err_tx.send(format!("stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Participant { child, lines: rx, seen: vec![] }
    }

    /// Waits for a line containing `text` (keeping every line seen).
    fn wait_for(&mut self, text: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        if let Some(l) = self.seen.iter().find(|l| l.contains(text)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no “{text}” within {within:?}; saw:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn kill(&mut self) {
        let status = std::process::Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }
}

/// iris split row by row among `names` (row `r` to `names[r % n]`), one CSV file each in `dir`.
fn iris_files(dir: &std::path::Path, names: &[&str]) -> Vec<std::path::PathBuf> {
    let iris = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
    let mut lines = iris.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let path = dir.join(format!("{n}.csv"));
            let mine: Vec<&str> = rows.iter().enumerate().filter(|(r, _)| r % names.len() == i).map(|(_, l)| *l).collect();
            std::fs::write(&path, format!("{header}\n{}\n", mine.join("\n"))).unwrap();
            path
        })
        .collect()
}

fn kill(child: &mut Child) {
    let status = std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_participants_survive_dropouts_and_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = spawn_on(&addr, &data);
    let remote = Remote { addr: addr.parse().unwrap() };
    let owner = remote.user("owner").await;
    let names = ["site1", "site2", "site3", "site4", "site5"];
    for n in names {
        assert_eq!(remote.register(n, "healthcare", "oncology").await.status(), 201);
    }
    let r = client().post(remote.url("/api/federations")).bearer_auth(&owner.access).json(&iris_federation(2, 3, 3)).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // Each participant's share of iris, as a file on "its" machine.
    let mut parts = vec![];
    for (i, (n, path)) in names.iter().zip(iris_files(dir.path(), &names)).enumerate() {
        // The first victim polls slowly, so that it is killed after its shares for sure
        // before it could send its input.
        parts.push(Participant::spawn(&addr, &id, n, &path, if i == 0 { 1500 } else { 100 }));
    }
    let minute = Duration::from_secs(60);
    for p in &mut parts {
        p.wait_for("30 rows fit the task", minute);
    }

    // Round 2 is the first training step: participant 1 dies after its shares, 2 after its input.
    parts[0].wait_for("round 2: sent shares", minute);
    parts[0].kill();
    parts[1].wait_for("round 2: sent input", minute);
    parts[1].kill();
    let line = parts[2].wait_for("round 2 (training 1 of 2) aggregated", minute);
    assert!(line.contains("4 participants, 120 rows"), "{line}");

    // The server dies in round 3 once the keys are in, and comes back on the same data.
    parts[2].wait_for("round 3: sent keys", minute);
    kill(&mut server);
    let mut server = spawn_on(&addr, &data);

    let mut models = vec![];
    for p in &mut parts[2..] {
        let line = p.wait_for("the federation has finished: model ", Duration::from_secs(180));
        models.push(line.rsplit(' ').next().unwrap().to_owned());
        let status = p.child.wait().unwrap();
        assert!(status.success(), "{}", p.seen.join("\n"));
    }
    assert!(models.windows(2).all(|w| w[0] == w[1]), "{models:?}");
    let evaluation = parts[2].wait_for("(evaluation) aggregated", Duration::from_secs(1));
    let accuracy: f64 = evaluation.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(accuracy >= 0.85, "{evaluation}");
    assert!(evaluation.contains("3 participants, 90 rows"), "{evaluation}");

    // The model predicts.
    let body = json!({"rows": [{"sepal_length_cm": 6.7, "sepal_width_cm": 3.0, "petal_length_cm": 5.2, "petal_width_cm": 2.3}]});
    let r = client()
        .post(remote.url(&format!("/api/models/{}/predict", models[0])))
        .bearer_auth(&owner.access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["predictions"][0]["label"], "virginica");
    kill(&mut server);
}

/// A private federation (distributed noise, q = 1, σ = 2) run by three CLI participants with a
/// budget that three training rounds fit and a fourth would exceed, among ten declared: it
/// stops before the fourth with an event saying so, ε grows round by round in its results,
/// and every participant's ledger is the accountant's figure for (q, σ, 3 rounds), computed
/// here on its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_federation_stops_at_its_budget_and_each_ledger_matches_the_accountant() {
    use app::dp::accountant::epsilon;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = spawn_on(&addr, &data);
    let remote = Remote { addr: addr.parse().unwrap() };
    let owner = remote.user("owner").await;
    let names = ["site1", "site2", "site3"];
    for n in names {
        assert_eq!(remote.register(n, "healthcare", "oncology").await.status(), 201);
    }
    let (q, sigma, delta) = (1.0, 2.0, 1e-5);
    let budget = (epsilon(q, sigma, 3, delta).unwrap() + epsilon(q, sigma, 4, delta).unwrap()) / 2.0;
    let mut fed = iris_federation(10, 3, 2);
    fed["task"]["privacy"] =
        json!({"clip_norm": 1.0, "noise_multiplier": sigma, "noise": "distributed", "sampling_rate": q, "epsilon": budget, "delta": delta});
    let r = client().post(remote.url("/api/federations")).bearer_auth(&owner.access).json(&fed).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let mut parts: Vec<Participant> =
        names.iter().zip(iris_files(dir.path(), &names)).map(|(n, path)| Participant::spawn(&addr, &id, n, &path, 100)).collect();
    let expected = epsilon(q, sigma, 3, delta).unwrap();
    let mut spent = vec![];
    for step in 1..=3 {
        let line = parts[0].wait_for(&format!("(training {step} of 10) aggregated"), Duration::from_secs(120));
        let e: f64 = line.rsplit("ε = ").next().unwrap().parse().unwrap();
        assert!((e - epsilon(q, sigma, step, delta).unwrap()).abs() < 1e-4, "{line}");
        spent.push(e);
    }
    assert!(spent.windows(2).all(|w| w[1] > w[0]), "ε grows round by round: {spent:?}");
    for p in &mut parts {
        let ledger = p.wait_for("your privacy: ", Duration::from_secs(120));
        assert!(ledger.contains(&format!("ε = {expected:.4} of the budget")), "{ledger} (accountant: {expected})");
        assert!(ledger.contains("after 3 training rounds") && ledger.contains("your update was in rounds [2, 3, 4]"), "{ledger}");
        p.wait_for("the federation has finished: model ", Duration::from_secs(30));
        assert!(p.child.wait().unwrap().success(), "{}", p.seen.join("\n"));
    }
    assert!(!parts[0].seen.iter().any(|l| l.contains("training 4 of 10")), "no fourth round: {:?}", parts[0].seen);

    // The events say why training stopped; the model's record keeps what was spent.
    let view: Value = remote.get_as(&owner.access, &format!("/api/federations/{id}")).await.json().await.unwrap();
    assert!((view["epsilon"].as_f64().unwrap() - expected).abs() < 1e-12, "{view}");
    let events = client()
        .get(remote.url(&format!("/api/federations/{id}/events")))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("event: budget_reached"), "{events}");
    let model_id = view["model_id"].as_str().unwrap();
    let model: Value = remote.get_as(&owner.access, &format!("/api/models/{model_id}")).await.json().await.unwrap();
    assert_eq!(model["privacy"]["steps"], 3);
    assert!((model["privacy"]["epsilon"].as_f64().unwrap() - expected).abs() < 1e-12, "{model}");
    kill(&mut server);
}
