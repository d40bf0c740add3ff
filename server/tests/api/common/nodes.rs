//! Real processes for tests and benchmarks that need more than one node: the `cipherfold`
//! binary, a SurrealDB server (`surreal-node`, built with the `surreal-node` feature), moto's
//! S3 API, each killed (SIGKILL) when its handle is dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{client, Remote};

/// The `cipherfold` binary, without the developer's own `CIPHERFOLD_*` settings.
pub fn cipherfold() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cipherfold"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CIPHERFOLD_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string()
}

/// Waits (a minute at most) until `url` answers with a success.
pub async fn wait_for(url: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not answer at {url}");
}

/// moto's server next to CIPHERFOLD_PYTHON (scripts/test.sh installs `moto[server]` there), else on PATH.
pub fn moto_server_bin() -> std::path::PathBuf {
    let python = std::env::var("CIPHERFOLD_PYTHON").unwrap_or_else(|_| "python3".into());
    let bin = Path::new(&python).with_file_name("moto_server");
    if bin.exists() {
        bin
    } else {
        "moto_server".into()
    }
}

/// moto's S3 API on loopback with the bucket `bucket`; its endpoint.
pub async fn moto(bucket: &str) -> (Proc, String) {
    let addr = free_addr();
    let (host, port) = addr.split_once(':').unwrap();
    let child = Command::new(moto_server_bin())
        .args(["-H", host, "-p", port])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server runs (scripts/test.sh installs moto[server]; or pip install 'moto[server]')");
    let p = Proc(child);
    let endpoint = format!("http://{addr}");
    wait_for(&format!("{endpoint}/moto-api/"), "moto").await;
    let r = client().put(format!("{endpoint}/{bucket}")).send().await.unwrap();
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    (p, endpoint)
}

/// A SurrealDB server in memory with the root user `root`/`root`; its `ws://` endpoint.
#[cfg(feature = "surreal-node")]
pub async fn surreal() -> (Proc, String) {
    let addr = free_addr();
    let child = Command::new(env!("CARGO_BIN_EXE_surreal-node"))
        .args(["start", "--bind", &addr, "--user", "root", "--pass", "root", "--log", "warn", "memory"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("surreal-node runs");
    let p = Proc(child);
    wait_for(&format!("http://{addr}/health"), "the SurrealDB server").await;
    (p, format!("ws://{addr}"))
}

/// What every node of one deployment shares: the database, the bucket, the keys.
pub struct Shared {
    pub database: String,
    pub s3: String,
    pub bucket: String,
    pub jwt_secret: String,
    pub trainer_key: String,
}

impl Shared {
    /// `database` and `s3` endpoints, with fixed keys (every node must have the same).
    pub fn new(database: String, s3: String, bucket: &str) -> Shared {
        let hex = |salt: usize| (0..32).map(|i| format!("{:02x}", (i * 37 + salt) % 251)).collect::<String>();
        Shared { database, s3, bucket: bucket.to_owned(), jwt_secret: hex(11), trainer_key: hex(5) }
    }
}

/// A `cipherfold serve` node on `shared` with `workers` training workers and 3-second job
/// leases, its data directory `dir`.
pub async fn node(shared: &Shared, workers: u16, dir: &Path) -> (Proc, Remote) {
    let addr = free_addr();
    let mut c = cipherfold();
    c.args(["serve", "--addr", &addr, "--database", &shared.database, "--database-user", "root", "--database-pass", "root"])
        .args(["--object-store", &format!("s3://{}/objects", shared.bucket), "--job-lease-secs", "3"])
        .args(["--workers", &workers.to_string()])
        .arg("--data-dir")
        .arg(dir)
        .env("CIPHERFOLD_JWT_SECRET", &shared.jwt_secret)
        .env("CIPHERFOLD_TRAINER_KEY", &shared.trainer_key)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT", &shared.s3)
        .env("AWS_ALLOW_HTTP", "true")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        // The node's log, for a failing test to be read: `node.log` in its data directory.
        .stderr(std::fs::File::create(dir.join("node.log")).map(Stdio::from).unwrap_or_else(|_| Stdio::null()));
    let p = Proc(c.spawn().expect("cipherfold runs"));
    let remote = Remote { addr: addr.parse().unwrap() };
    wait_for(&remote.url("/api/health"), "a cipherfold node").await;
    (p, remote)
}
