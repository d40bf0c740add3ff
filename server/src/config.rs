//! Configuration from flags, `CIPHERFOLD_*` environment variables and an optional `.env`
//! (read before the flags are parsed, so it fills the same environment variables).
//! Everything is validated here, once, so the rest of the server receives typed values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use url::Url;

use crate::error::ServerError;

#[derive(Debug, Parser)]
#[command(name = "cipherfold", version, about = "Collaborative machine learning on encrypted data")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, accepted without the sub-command since serving is the default.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app and the API (the default). Boxed: it is far larger than the others.
    Serve(Box<ServeArgs>),
    /// Take part in a federation with a data file on this machine (it is never sent).
    Federate(crate::participant::FederateArgs),
    /// Encrypted prediction: predictions the server computes on rows it cannot read.
    He {
        #[command(subcommand)]
        command: HeCommand,
    },
    /// Privacy accounting: what noisy training costs in (ε, δ), before anything is spent.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum HeCommand {
    /// Predict the rows of a file with a linear or logistic model, encrypted under a key kept
    /// on this machine (docs/he.md).
    Predict(crate::he_predict::HePredictArgs),
}

#[derive(Debug, Subcommand)]
pub enum PrivacyCommand {
    /// ε of `--steps` steps of the sampled Gaussian mechanism at `--delta` (RDP accountant);
    /// with `--epsilon` instead of `--noise-multiplier`, the noise multiplier that meets it.
    Epsilon(EpsilonArgs),
}

#[derive(Debug, Clone, Args)]
pub struct EpsilonArgs {
    /// Probability that a record (or participant) is in a step: batch size / rows; 1 for none.
    #[arg(long, default_value_t = 1.0)]
    pub sampling_rate: f64,
    /// Noise standard deviation over the clipping norm.
    #[arg(long, required_unless_present = "epsilon", conflicts_with = "epsilon")]
    pub noise_multiplier: Option<f64>,
    /// A target ε: print the smallest noise multiplier that meets it.
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// Steps (batches, or federation rounds).
    #[arg(long)]
    pub steps: u64,
    #[arg(long, default_value_t = 1e-5)]
    pub delta: f64,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit log's hash chain; exits non-zero at the first break.
    Verify(StorageArgs),
}

/// Where the data lives; shared by `serve` and the maintenance commands.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the embedded database, local objects and keys.
    #[arg(long, env = "CIPHERFOLD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database: `surrealkv://PATH` (default: under the data directory), `mem://`, or `ws://HOST:PORT`.
    #[arg(long, env = "CIPHERFOLD_DATABASE")]
    pub database: Option<String>,
    /// A SurrealDB server's root user, to sign in as (none: the server allows guests).
    #[arg(long, env = "CIPHERFOLD_DATABASE_USER")]
    pub database_user: Option<String>,
    /// That user's password.
    #[arg(long, env = "CIPHERFOLD_DATABASE_PASS", hide_env_values = true)]
    pub database_pass: Option<String>,
}

impl StorageArgs {
    pub fn database_url(&self) -> Result<DatabaseUrl, ServerError> {
        let url = match &self.database {
            Some(raw) => DatabaseUrl::parse(raw)?,
            None => DatabaseUrl::SurrealKv(self.data_dir.join("db")),
        };
        match (url, &self.database_user, &self.database_pass) {
            (DatabaseUrl::Remote(endpoint, _), Some(user), Some(pass)) => {
                Ok(DatabaseUrl::Remote(endpoint, Some(RootLogin { user: user.clone(), pass: pass.clone() })))
            }
            (DatabaseUrl::Remote(..), Some(_), None) | (DatabaseUrl::Remote(..), None, Some(_)) => {
                Err(ServerError::Config("give both --database-user and --database-pass (or neither)".into()))
            }
            (url, None, None) => Ok(url),
            _ => Err(ServerError::Config("--database-user and --database-pass are for a SurrealDB server (ws://…)".into())),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CIPHERFOLD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Object store: `file://PATH` (default: `DATA_DIR/objects`) or `s3://BUCKET[/PREFIX]` with the usual AWS_* variables.
    #[arg(long, env = "CIPHERFOLD_OBJECT_STORE")]
    pub object_store: Option<String>,
    /// Directory holding the built site (`pkg/`, icons, manifest, service worker).
    #[arg(long, env = "CIPHERFOLD_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "CIPHERFOLD_LOG_FORMAT", default_value = "pretty", value_parser = ["pretty", "json"])]
    pub log_format: String,
    /// A username that becomes admin when it registers (the first user always does).
    #[arg(long, env = "CIPHERFOLD_ADMIN")]
    pub admin: Option<String>,
    /// Token signing key, hex (at least 32 bytes); default: generated once in DATA_DIR/keys.
    #[arg(long, env = "CIPHERFOLD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The trainer's X25519 private key, hex (32 bytes); default: generated once in DATA_DIR/keys.
    #[arg(long, env = "CIPHERFOLD_TRAINER_KEY", hide_env_values = true)]
    pub trainer_key: Option<String>,
    /// Largest dataset (plaintext bytes) an upload may declare.
    #[arg(long, env = "CIPHERFOLD_MAX_DATASET_BYTES", default_value_t = app::model::dataset::DEFAULT_MAX_BYTES)]
    pub max_dataset_bytes: u64,
    /// Training jobs run at once (each on its own thread).
    #[arg(long, env = "CIPHERFOLD_WORKERS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(0..=64))]
    pub workers: u16,
    /// Seconds a worker's claim on a job lasts without a heartbeat; after it, the job returns
    /// to the queue (a worker that died).
    #[arg(long, env = "CIPHERFOLD_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub job_lease_secs: u64,
    /// Attempts a job gets before an interrupted job is marked failed.
    #[arg(long, env = "CIPHERFOLD_JOB_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub job_max_attempts: u32,
    /// Mark session cookies `Secure`: set this when users reach the server over HTTPS
    /// (requests with `X-Forwarded-Proto: https` get it anyway).
    #[arg(long, env = "CIPHERFOLD_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate chain; needs --tls-key.
    /// Session cookies are `Secure` then, and a renewed file is picked up without a restart.
    #[arg(long, env = "CIPHERFOLD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "CIPHERFOLD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// comma-separated); from anyone else the header is ignored.
    #[arg(long, env = "CIPHERFOLD_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// A token (at least 16 characters) Prometheus must send to read `/metrics`, as
    /// `Authorization: Bearer TOKEN`; without one, `/metrics` is open to whoever reaches it.
    #[arg(long, env = "CIPHERFOLD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

/// Where the database lives. The SDK's `connect` takes the URL as is; the variant lets us
/// prepare (create directories for) the embedded one and describe it in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    SurrealKv(PathBuf),
    Memory,
    /// A SurrealDB server, and the root user to sign in as.
    Remote(String, Option<RootLogin>),
}

/// A SurrealDB server's root user; the password stays out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct RootLogin {
    pub user: String,
    pub pass: String,
}

impl std::fmt::Debug for RootLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RootLogin {{ user: {:?}, pass: \"…\" }}", self.user)
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ServerError> {
        let bad = |why: &str| ServerError::Config(format!("database URL {raw:?} {why}; use surrealkv://PATH, mem:// or ws://HOST:PORT"));
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        match scheme {
            "surrealkv" if !rest.is_empty() => Ok(DatabaseUrl::SurrealKv(PathBuf::from(rest))),
            "surrealkv" => Err(bad("has no path")),
            "mem" | "memory" => Ok(DatabaseUrl::Memory),
            "ws" | "wss" | "http" | "https" => {
                Url::parse(raw).map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
                Ok(DatabaseUrl::Remote(raw.to_owned(), None))
            }
            other => Err(bad(&format!("has the unsupported scheme {other:?}"))),
        }
    }

    /// The endpoint string the SurrealDB SDK's `engine::any::connect` accepts.
    pub fn endpoint(&self) -> String {
        match self {
            DatabaseUrl::SurrealKv(p) => format!("surrealkv://{}", p.display()),
            DatabaseUrl::Memory => "mem://".to_owned(),
            DatabaseUrl::Remote(u, _) => u.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectStoreUrl {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ObjectStoreUrl {
    pub fn parse(raw: &str) -> Result<Self, ServerError> {
        let bad = |why: &str| ServerError::Config(format!("object store URL {raw:?} {why}; use file://PATH or s3://BUCKET[/PREFIX]"));
        let (scheme, rest) = raw.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        match scheme {
            "file" if !rest.is_empty() => Ok(ObjectStoreUrl::Local(PathBuf::from(rest))),
            "file" => Err(bad("has no path")),
            "s3" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("has no bucket"));
                }
                Ok(ObjectStoreUrl::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
            }
            other => Err(bad(&format!("has the unsupported scheme {other:?}"))),
        }
    }
}

/// The validated configuration `serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub object_store: ObjectStoreUrl,
    pub site_root: PathBuf,
    pub admin: Option<String>,
    pub jwt_secret: Option<String>,
    pub trainer_key: Option<String>,
    pub max_dataset_bytes: u64,
    pub jobs: JobsConfig,
    pub secure_cookies: bool,
    pub metrics_token: Option<String>,
    /// Serve HTTPS with these files (`None`: plain HTTP, for loopback or behind a proxy).
    pub tls: Option<crate::tls::TlsFiles>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Login tries per account and per address (the defaults; not a flag).
    pub login_limits: crate::backend::auth::ratelimit::LoginLimits,
}

/// How the trainer runs jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobsConfig {
    pub workers: u16,
    pub lease_secs: u64,
    pub max_attempts: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { workers: 1, lease_secs: 30, max_attempts: 3 }
    }
}

impl Config {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ServerError> {
        let addr = args
            .addr
            .parse()
            .map_err(|_| ServerError::Config(format!("address {:?} is not HOST:PORT (for example 127.0.0.1:3000)", args.addr)))?;
        let database = args.storage.database_url()?;
        let data_dir = args.storage.data_dir.clone();
        let object_store = match &args.object_store {
            Some(raw) => ObjectStoreUrl::parse(raw)?,
            None => ObjectStoreUrl::Local(data_dir.join("objects")),
        };
        Ok(Config {
            addr,
            data_dir,
            database,
            object_store,
            site_root: args.site_root.clone(),
            admin: args.admin.clone(),
            jwt_secret: args.jwt_secret.clone(),
            trainer_key: args.trainer_key.clone(),
            max_dataset_bytes: args.max_dataset_bytes,
            jobs: JobsConfig { workers: args.workers, lease_secs: args.job_lease_secs, max_attempts: args.job_max_attempts },
            secure_cookies: args.secure_cookies,
            trusted_proxies: crate::routes::client_ip::parse_trusted(args.trusted_proxies.as_deref().unwrap_or_default())
                .map_err(ServerError::Config)?,
            login_limits: Default::default(),
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert: cert.clone(), key: key.clone() }),
                (None, None) => None,
                _ => return Err(ServerError::Config("--tls-cert and --tls-key go together; give both or neither".into())),
            },
            metrics_token: match &args.metrics_token {
                Some(t) if t.trim().len() < 16 => {
                    return Err(ServerError::Config("the metrics token is shorter than 16 characters; use a long random one".into()))
                }
                t => t.clone(),
            },
        })
    }

    /// A configuration for tests: in-memory database, objects under `dir`.
    pub fn for_tests(dir: &Path) -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.to_path_buf(),
            database: DatabaseUrl::Memory,
            object_store: ObjectStoreUrl::Local(dir.join("objects")),
            site_root: dir.join("site"),
            admin: None,
            jwt_secret: None,
            trainer_key: None,
            max_dataset_bytes: app::model::dataset::DEFAULT_MAX_BYTES,
            jobs: JobsConfig::default(),
            secure_cookies: false,
            metrics_token: None,
            tls: None,
            trusted_proxies: Vec::new(),
            login_limits: Default::default(),
        }
    }
}

/// Loads `.env` from the working directory if there is one. A malformed file is an error
/// rather than silently ignored, since it usually holds the settings someone meant to use.
pub fn load_dotenv() -> Result<(), ServerError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(e) => Err(ServerError::Config(format!(".env could not be read: {e}"))),
    }
}

#[cfg(test)]
mod tests {

    /// The README's configuration table lists every flag of `serve` with its environment
    /// variable, and nothing `serve` does not take.
    #[test]
    fn the_readme_table_lists_every_serve_flag() {
        use clap::CommandFactory;
        let readme = include_str!("../../README.md");
        let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `--")).collect();
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").expect("serve");
        let mut flags = Vec::new();
        for arg in serve.get_arguments() {
            let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else { continue };
            let (flag, env) = (format!("`--{long}`"), format!("`{}`", env.to_string_lossy()));
            assert!(
                table.iter().any(|row| row.starts_with(&format!("| {flag} | {env} |"))),
                "README's configuration table has no row for {flag} with {env}"
            );
            flags.push(flag);
        }
        for row in table {
            assert!(flags.iter().any(|f| row.starts_with(&format!("| {f} "))), "README lists a flag serve does not take: {row}");
        }
    }

    use super::*;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["cipherfold"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).expect("valid flags").serve
    }

    #[test]
    fn defaults_put_everything_under_the_data_directory() {
        let mut a = args(&["--data-dir", "/srv/cf"]);
        a.storage.database = None;
        a.object_store = None;
        a.addr = "127.0.0.1:3000".into();
        let c = Config::from_args(&a).unwrap();
        assert_eq!(c.database, DatabaseUrl::SurrealKv(PathBuf::from("/srv/cf/db")));
        assert_eq!(c.object_store, ObjectStoreUrl::Local(PathBuf::from("/srv/cf/objects")));
        assert_eq!(c.addr.port(), 3000);
    }

    #[test]
    fn database_urls_are_recognised_or_explained() {
        assert_eq!(DatabaseUrl::parse("mem://").unwrap(), DatabaseUrl::Memory);
        assert_eq!(DatabaseUrl::parse("surrealkv:///tmp/x").unwrap(), DatabaseUrl::SurrealKv("/tmp/x".into()));
        assert_eq!(DatabaseUrl::parse("ws://127.0.0.1:8000").unwrap(), DatabaseUrl::Remote("ws://127.0.0.1:8000".into(), None));
        let e = DatabaseUrl::parse("postgres://x").unwrap_err().to_string();
        assert!(e.contains("unsupported scheme \"postgres\"") && e.contains("surrealkv://PATH"), "{e}");
        let e = DatabaseUrl::parse("localhost").unwrap_err().to_string();
        assert!(e.contains("no scheme"), "{e}");
        assert!(DatabaseUrl::parse("ws://[bad").is_err());
    }

    #[test]
    fn a_database_server_takes_a_root_login_and_only_a_server_does() {
        let mut a = args(&[]);
        a.storage.database = Some("ws://db:8000".into());
        a.storage.database_user = Some("root".into());
        a.storage.database_pass = Some("s3cret".into());
        let url = a.storage.database_url().unwrap();
        assert_eq!(url, DatabaseUrl::Remote("ws://db:8000".into(), Some(RootLogin { user: "root".into(), pass: "s3cret".into() })));
        assert!(!format!("{url:?}").contains("s3cret"), "the password stays out of logs");
        a.storage.database_pass = None;
        assert!(a.storage.database_url().unwrap_err().to_string().contains("both --database-user and --database-pass"));
        a.storage.database = Some("mem://".into());
        a.storage.database_pass = Some("s3cret".into());
        assert!(a.storage.database_url().unwrap_err().to_string().contains("for a SurrealDB server"));
    }

    #[test]
    fn object_store_urls_are_recognised_or_explained() {
        assert_eq!(
            ObjectStoreUrl::parse("s3://bucket/some/prefix/").unwrap(),
            ObjectStoreUrl::S3 { bucket: "bucket".into(), prefix: "some/prefix".into() }
        );
        assert_eq!(ObjectStoreUrl::parse("s3://b").unwrap(), ObjectStoreUrl::S3 { bucket: "b".into(), prefix: "".into() });
        assert!(ObjectStoreUrl::parse("s3://").unwrap_err().to_string().contains("no bucket"));
        assert!(ObjectStoreUrl::parse("gs://b").unwrap_err().to_string().contains("unsupported scheme"));
    }

    #[test]
    fn a_bad_address_names_the_expected_form() {
        let mut a = args(&[]);
        a.addr = "localhost".into();
        let e = Config::from_args(&a).unwrap_err().to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }
}
