//! The real binary as an operator meets it: start-up errors are one clear line with a
//! non-zero exit, never a panic; SIGTERM shuts down cleanly.

use crate::common;
pub use crate::common::nodes::cipherfold;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

fn run_to_end(mut c: Command) -> (i32, String) {
    let out = c.output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

fn error_line(stderr: &str) -> &str {
    stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line in: {stderr}"))
}

#[test]
fn port_in_use_is_one_clear_line() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut c = cipherfold();
    c.args(["serve", "--addr", &addr, "--database", "mem://", "--data-dir"]).arg(dir.path());
    let (code, stderr) = run_to_end(c);
    assert_eq!(code, 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(line.contains(&addr) && line.contains("already in use") && line.contains("--addr"), "{line}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unwritable_data_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let bad = file.join("data"); // a directory under a regular file cannot exist
    let mut c = cipherfold();
    c.args(["--addr", "127.0.0.1:0", "--data-dir"]).arg(&bad);
    let (code, stderr) = run_to_end(c);
    assert_eq!(code, 1, "{stderr}");
    let line = error_line(&stderr);
    assert!(line.contains("data directory") && line.contains(&bad.display().to_string()), "{line}");
    assert!(line.contains("--data-dir"), "{line}");
}

#[test]
fn bad_urls_and_settings_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, expect) in [
        ("--database", "postgres://db", "surrealkv://PATH"),
        ("--object-store", "ftp://x", "s3://BUCKET"),
        ("--addr", "not-an-address", "HOST:PORT"),
        ("--metrics-token", "tiny-token", "16 characters"),
    ] {
        let mut c = cipherfold();
        c.args([flag, value, "--data-dir"]).arg(dir.path());
        let (code, stderr) = run_to_end(c);
        assert_eq!(code, 1, "{flag} {value}: {stderr}");
        let line = error_line(&stderr);
        // A bad URL is quoted back; a secret never is.
        assert_eq!(line.contains(value), flag != "--metrics-token", "{line}");
        assert!(line.contains(expect), "{line}");
    }
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _addr) = spawn_healthy(dir.path());
    // The default embedded database went to the data directory.
    assert!(dir.path().join("db").exists(), "surrealkv directory missing");
    assert!(dir.path().join("objects").is_dir(), "object directory missing");

    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not stop within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = std::fs::read_to_string(server_log(dir.path())).unwrap();
    assert!(status.success(), "exit {status}: {err}");
    assert!(err.contains("shutting down") && err.contains("stopped"), "{err}");
}

/// Starts `cipherfold serve` on a free port with its data in `data_dir` and waits until it
/// answers health.
fn spawn_healthy(data_dir: &std::path::Path) -> (std::process::Child, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    (spawn_on(&addr, data_dir), addr)
}

/// Starts `cipherfold serve` on `addr` (a restart reuses its predecessor's) and waits until
/// it answers health.
pub fn spawn_on(addr: &str, data_dir: &std::path::Path) -> std::process::Child {
    let mut c = cipherfold();
    c.args(["serve", "--addr", addr, "--data-dir"]).arg(data_dir);
    // The log goes to a file beside the data: a pipe nobody reads would fill up and stop the
    // server mid-test once it has logged 64 KiB.
    std::fs::create_dir_all(data_dir).unwrap();
    let log = server_log(data_dir);
    c.stderr(std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("server exited early ({status}): {err}");
        }
        if http_get_status(addr, "/api/health") == Some(200) {
            return child;
        }
        assert!(Instant::now() < deadline, "server did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Where `spawn_on` writes the server's log: `server.log` in its data directory.
pub fn server_log(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("server.log")
}

/// A minimal HTTP/1.1 GET, so this test needs no client library and no runtime.
fn http_get_status(addr: &str, path: &str) -> Option<u16> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn audit_verify_command_passes_an_intact_log_and_names_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_healthy(dir.path());
    for (user, pass) in [("root", "correct horse battery"), ("alice", "correct horse battery")] {
        let body =
            format!(r#"{{"username":"{user}","email":"{user}@example.org","password":"{pass}","domain":"retail","subdomain":"pricing"}}"#);
        assert_eq!(http_post_json(&addr, "/api/auth/register", &body), Some(201));
    }
    assert_eq!(http_post_json(&addr, "/api/auth/login", r#"{"username":"alice","password":"wrong password!!"}"#), Some(401));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(server_log(dir.path())).unwrap();
    assert!(log.contains("listening"), "{log}");
    assert!(!log.contains("correct horse battery") && !log.contains("wrong password"), "a password reached the log:\n{log}");

    let verify = || {
        let mut c = cipherfold();
        c.args(["audit", "verify", "--data-dir"]).arg(dir.path());
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, stdout, stderr) = verify();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("audit log intact: 3 entries"), "{stdout}");

    // Rewrite history: make the failed login look successful.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = server::backend::db::connect(&server::config::DatabaseUrl::SurrealKv(dir.path().join("db"))).await.unwrap();
        db.query("UPDATE audit SET outcome = 'ok' WHERE seq = 3").await.unwrap().check().unwrap();
        // The embedded engine closes (and releases its lock) in a background task after the
        // last handle is dropped: give it the runtime until the lock is free.
        drop(db);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let probe = server::backend::db::connect(&server::config::DatabaseUrl::SurrealKv(dir.path().join("db"))).await;
            if let Ok(db) = probe {
                drop(db);
                tokio::time::sleep(Duration::from_millis(300)).await;
                break;
            }
        }
    });
    drop(rt);
    let (code, stdout, stderr) = verify();
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("audit log broken at entry 3"), "{stderr}");
}

fn http_post_json(addr: &str, path: &str, body: &str) -> Option<u16> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn settings_in_a_dotenv_file_are_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "CIPHERFOLD_DATABASE=postgres://from-dotenv\n").unwrap();
    let mut c = cipherfold();
    c.current_dir(dir.path()).args(["--addr", "127.0.0.1:0"]);
    let (code, stderr) = run_to_end(c);
    assert_eq!(code, 1, "{stderr}");
    assert!(error_line(&stderr).contains("postgres://from-dotenv"), "{stderr}");
}

/// The trainer survives a SIGKILL mid-job: the restarted server finds the job its dead
/// predecessor was running, puts it back in the queue, runs it again and finishes it.
#[test]
fn a_job_killed_mid_run_is_picked_up_again_after_a_restart() {
    use app::model::job::{JobEvent, JobInfo, JobStatus};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = spawn_healthy(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = common::Remote { addr: addr.parse().unwrap() };
    let iris = std::fs::read(format!("{}/../app/tests/data/iris.csv", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let (token, id) = rt.block_on(async {
        let alice = first.user("alice").await;
        let s = first.seal(&iris, app::table::Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
        first.store_dataset(&alice.access, &s).await;
        let body = serde_json::json!({"dataset_ids": [s.id], "target": "species", "model": {"kind": "forest", "params": {"trees": 300}}});
        let r = common::client().post(first.url("/api/jobs")).bearer_auth(&alice.access).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let id = r.json::<JobInfo>().await.unwrap().id;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let j: JobInfo = first.get_as(&alice.access, &format!("/api/jobs/{id}")).await.json().await.unwrap();
            if j.status == JobStatus::Running && j.progress > 0.05 {
                break;
            }
            assert!(Instant::now() < deadline && !j.status.is_final(), "the job should be running: {j:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (alice.access, id)
    });
    Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();

    let (mut again, addr) = spawn_healthy(dir.path());
    let second = common::Remote { addr: addr.parse().unwrap() };
    let (job, events) = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let j: JobInfo = second.get_as(&token, &format!("/api/jobs/{id}")).await.json().await.unwrap();
            if j.status.is_final() {
                let r = second.get_as(&token, &format!("/api/jobs/{id}/events")).await.text().await.unwrap();
                break (j, r);
            }
            assert!(Instant::now() < deadline, "the job did not finish after the restart: {j:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    Command::new("kill").args(["-TERM", &again.id().to_string()]).status().unwrap();
    again.wait().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{:?}", job.error);
    assert_eq!(job.attempts, 2);
    assert!(job.metrics.unwrap().score() > 0.9);
    let names: Vec<String> = events
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str::<app::model::job::JobEventRecord>(d.trim()).unwrap().event)
        .map(|e| match e {
            JobEvent::Requeued { reason } => format!("requeued: {reason}"),
            JobEvent::Started { attempt } => format!("started {attempt}"),
            other => other.name().to_owned(),
        })
        .filter(|n| n != "step" && n != "fold")
        .collect();
    assert_eq!(
        names,
        ["queued", "started 1", "loaded", "requeued: the server restarted during attempt 1", "started 2", "loaded", "trial", "finished"],
    );
}

/// An upload broken off by a SIGKILL leaves nothing behind once the server is back, as any
/// broken-off upload: the declaration is removed (not stuck "already being uploaded"), the
/// partial object the killed process was writing is gone, and the owner can declare and send
/// the same file again.
#[test]
fn an_upload_killed_midway_leaves_no_partial_object_and_can_be_sent_again() {
    use app::model::dataset::{DatasetInfo, DatasetStatus};
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    let partial = |root: &std::path::Path| -> Vec<std::path::PathBuf> {
        common::walk(root).into_iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains('#'))).collect()
    };
    let (mut child, addr) = spawn_healthy(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = common::Remote { addr: addr.parse().unwrap() };
    let mut csv = String::from("a,b,label\n");
    let mut i = 0u64;
    while csv.len() < 8 * 1024 * 1024 {
        csv.push_str(&format!("{},{},{}\n", i, i * 7 % 13, if i.is_multiple_of(3) { "x" } else { "y" }));
        i += 1;
    }
    let (token, sealed) = rt.block_on(async {
        let alice = first.user("alice").await;
        let s = first.seal(csv.as_bytes(), app::table::Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
        assert_eq!(first.declare(&alice.access, &s.declared).await.status(), 201);
        // Two thirds of the envelope, then a body that never ends: the server is mid-upload.
        first.stalled_upload(&alice.access, &s.id, &s.envelope[..s.envelope.len() * 2 / 3]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while partial(&objects).is_empty() {
            assert!(Instant::now() < deadline, "the upload never reached the object store");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (alice.access, s)
    });
    Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
    assert!(!partial(&objects).is_empty(), "the killed process left its partial object (what this test is about)");

    let (mut again, addr) = spawn_healthy(dir.path());
    let second = common::Remote { addr: addr.parse().unwrap() };
    rt.block_on(async {
        assert_eq!(partial(&objects), Vec::<std::path::PathBuf>::new(), "the restart removed the partial object");
        let r = second.get_as(&token, &format!("/api/datasets/{}", sealed.id)).await;
        assert_eq!(r.status(), 404, "the broken-off declaration is removed at the restart");
        assert_eq!(second.declare(&token, &sealed.declared).await.status(), 201);
        let r = second.upload(&token, &sealed.id, sealed.envelope.clone()).await;
        assert_eq!(r.status(), 200, "sending it again works: {}", r.text().await.unwrap());
        let d: DatasetInfo = second.get_as(&token, &format!("/api/datasets/{}", sealed.id)).await.json().await.unwrap();
        assert_eq!(d.status, DatasetStatus::Ready);
    });
    Command::new("kill").args(["-TERM", &again.id().to_string()]).status().unwrap();
    again.wait().unwrap();
}
