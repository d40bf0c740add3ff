//! Load on one node and on two nodes sharing a real SurrealDB server and a real S3 API (moto),
//! all on loopback: 64 connections for 30 s, each cycling through listing datasets, reading a
//! model and predicting one row (autocannon, `end2end/bench/load.mjs`), with logins alongside
//! at 0.5 a second. Reported per run: requests/s, p50 and p99 latency, errors and non-2xx
//! answers (each by request and status, with its body), and the CPU seconds each process and
//! the whole machine used (which names the bottleneck). The baseline
//! is the one-node run, measured in the same run; two nodes are shown as a ratio of it. Then
//! the failure run: two nodes under the same load, the second killed with SIGKILL a third of
//! the way through while a training job runs; the first node's errors (expected: none), the
//! job's end, and the audit chain checked by `cipherfold audit verify`.
//!
//! `cargo bench -p server --features surreal-node --bench load` (node and npm's autocannon
//! in end2end/node_modules, as scripts/test.sh installs them; moto as for the S3 tests).

#[path = "../tests/api/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use app::model::job::{JobInfo, JobStatus};
use app::table::Format;
use serde_json::{json, Value};

use common::nodes::{cipherfold, moto, node, surreal, Proc, Shared};
use common::{client, Remote};

const SECONDS: u64 = 30;
const CONNECTIONS: usize = 64;

/// CPU seconds (user + system, all its threads) a process has used so far, from /proc/PID/stat.
fn cpu_seconds(p: &Proc) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", p.0.id())).unwrap_or_default();
    // After the command's closing parenthesis come state (a letter), ppid, … : utime and stime
    // are the 12th and 13th fields there, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// CPU seconds the whole machine has been busy (every core, not idle or waiting on I/O), from
/// /proc/stat: what the processes above leave of it is the load generator's (and the rest).
fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or("");
    let t: Vec<f64> = cpu.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal …
    let busy: f64 = t.iter().take(8).enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, v)| v).sum();
    busy / 100.0
}

#[derive(Debug, Default, Clone)]
struct Line {
    node: String,
    requests: f64,
    rps: f64,
    p50: f64,
    p99: f64,
    errors: f64,
    non2xx: f64,
    /// Non-2xx answers by "METHOD path status": how many, and the first body.
    failed: Vec<(String, u64, String)>,
}

/// Runs load.mjs against `nodes`; one line per node and one for the logins.
fn load(nodes: &[&Remote], token: &str, model: &str, accounts: &[String]) -> Vec<Line> {
    let cfg = json!({
        "duration": SECONDS, "connections": CONNECTIONS, "token": token, "model": model,
        "row": {"sepal_length_cm": 5.9, "sepal_width_cm": 3.0, "petal_length_cm": 5.1, "petal_width_cm": 1.8},
        "accounts": accounts, "password": "correct horse battery", "loginRate": 0.5,
        "nodes": nodes.iter().map(|n| format!("http://{}", n.addr)).collect::<Vec<_>>(),
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end/bench/load.mjs");
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(cfg.to_string())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end"))
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    assert!(out.status.success(), "load.mjs: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Line {
            node: v["node"].as_str().unwrap_or("").to_owned(),
            requests: v["requests"].as_f64().unwrap_or(0.0),
            rps: v["rps"].as_f64().unwrap_or(0.0),
            p50: v["p50"].as_f64().unwrap_or(0.0),
            p99: v["p99"].as_f64().unwrap_or(0.0),
            errors: v["errors"].as_f64().unwrap_or(0.0),
            non2xx: v["non2xx"].as_f64().unwrap_or(0.0),
            failed: v["failed"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, f)| (k.clone(), f["count"].as_u64().unwrap_or(0), f["body"].as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Each non-2xx answer of `l`, by request and status, with the first body seen.
fn print_failed(l: &Line) {
    for (what, count, body) in &l.failed {
        println!("      {count:>5} × {what}: {body}");
    }
}

fn print(label: &str, lines: &[Line], cpu: &[(&str, f64)], busy: f64) -> f64 {
    let reads: Vec<&Line> = lines.iter().filter(|l| l.node != "logins").collect();
    let total: f64 = reads.iter().map(|l| l.rps).sum();
    println!("\n{label}");
    for l in lines {
        println!(
            "  {:<24} {:>8.0} requests {:>8.1} req/s  p50 {:>5.1} ms  p99 {:>6.1} ms  errors {}  non-2xx {}",
            l.node, l.requests, l.rps, l.p50, l.p99, l.errors, l.non2xx
        );
        print_failed(l);
    }
    println!("  reads in all: {total:.1} req/s");
    let share = |s: f64| s / SECONDS as f64 * 100.0;
    let named: f64 = cpu.iter().map(|(_, s)| s).sum();
    let mut used: Vec<(&str, f64)> = cpu.to_vec();
    used.push(("load generator and the rest", (busy - named).max(0.0)));
    let busiest = used.iter().copied().fold(("", 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let listed: Vec<String> = used.iter().map(|(n, s)| format!("{n} {s:.1} s ({:.0} % of a core)", share(*s))).collect();
    println!("  CPU over the run: {}", listed.join(", "));
    println!(
        "  machine busy {busy:.1} s of {} core-seconds ({:.0} %); busiest: {}",
        SECONDS as usize * cores(),
        busy / (SECONDS as usize * cores()) as f64 * 100.0,
        busiest.0
    );
    total
}

async fn until_final(n: &Remote, token: &str, id: &str) -> JobInfo {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let j: JobInfo = n.get_as(token, &format!("/api/jobs/{id}")).await.json().await.unwrap();
        if j.status.is_final() || Instant::now() > deadline {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let (db_proc, database) = surreal().await;
    let (moto_proc, s3) = moto("load").await;
    let shared = Shared::new(database, s3, "load");
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (a_proc, a) = node(&shared, 1, dirs[0].path()).await;

    // A model to read and predict with, and ten accounts to log in as.
    let owner = a.user("owner").await;
    let iris = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../app/tests/data/iris.csv")).unwrap();
    let sealed = a.seal(&iris, Format::Csv, None, 1 << 16).await;
    a.store_dataset(&owner.access, &sealed).await;
    let model = a.train(&owner.access, json!({"dataset_ids": [sealed.id], "target": "species", "model": {"kind": "logistic"}})).await;
    let model = model.model_id.expect("a model");
    let accounts: Vec<String> = (0..10).map(|i| format!("load{i}")).collect();
    for u in &accounts {
        assert_eq!(a.register(u, "healthcare", "oncology").await.status(), 201);
    }
    println!("load: {CONNECTIONS} connections for {SECONDS} s; reads cycle list datasets → get model → predict one row; logins at 0.5/s");

    // One measured run: the load on `nodes`, printed with the CPU `procs` and the machine used.
    let measured = |label: &str, nodes: &[&Remote], procs: &[(&'static str, &Proc)]| {
        let cpu = || procs.iter().map(|(n, p)| (*n, cpu_seconds(p))).collect::<Vec<_>>();
        let (before, busy) = (cpu(), machine_busy_seconds());
        let lines = load(nodes, &owner.access, &model, &accounts);
        let used: Vec<_> = before.iter().zip(cpu()).map(|(b, a)| (b.0, a.1 - b.1)).collect();
        print(label, &lines, &used, machine_busy_seconds() - busy)
    };
    let base = measured("one node (baseline)", &[&a], &[("surreal", &db_proc), ("node A", &a_proc), ("moto", &moto_proc)]);

    let (b_proc, b) = node(&shared, 1, dirs[1].path()).await;
    let both = measured(
        "two nodes, one SurrealDB server",
        &[&a, &b],
        &[("surreal", &db_proc), ("node A", &a_proc), ("node B", &b_proc), ("moto", &moto_proc)],
    );
    println!("  two nodes / one node: {:.2}× the reads per second", both / base);

    // Failure: a job on B, B killed a third of the way through the load.
    let job: JobInfo = client()
        .post(b.url("/api/jobs"))
        .bearer_auth(&owner.access)
        .json(&json!({"dataset_ids": [sealed.id], "target": "species", "model": {"kind": "forest", "params": {"trees": 300}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(SECONDS / 3));
        drop(b_proc);
        Instant::now()
    });
    let failing = load(&[&a, &b], &owner.access, &model, &accounts);
    let _killed_at = killer.join().unwrap();
    println!("\nfailure: node B killed (SIGKILL) after {} s of {SECONDS} s", SECONDS / 3);
    for l in &failing {
        println!("  {:<24} {:>8.0} requests  errors {}  non-2xx {}", l.node, l.requests, l.errors, l.non2xx);
        print_failed(l);
    }
    let ended = until_final(&a, &owner.access, &job.id).await;
    println!(
        "  the forest job posted to B: {:?} after {} attempt(s) (2: B had claimed it and A took it over)",
        ended.status, ended.attempts
    );
    let out = cipherfold()
        .args(["audit", "verify", "--database", &shared.database, "--database-user", "root", "--database-pass", "root"])
        .output()
        .unwrap();
    println!(
        "  audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).lines().find(|l| l.starts_with("error")).unwrap_or("")
    );
    assert_eq!(ended.status, JobStatus::Succeeded);
    drop(a_proc);
}
