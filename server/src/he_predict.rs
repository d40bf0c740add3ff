//! `cipherfold he predict`: predictions from a model without the server seeing the rows
//! (docs/he.md). The key is made here and kept in a file only this user can read; each row is
//! quantised as the model's offer says, encrypted, sent in requests of up to `--batch` rows,
//! and the answers decrypted here. Prints the rows with their predictions (CSV), then the
//! timings on standard error.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use url::Url;

use app::he::lwe::{ClientKey, CIPHERTEXT_WORDS};
use app::he::HeOffer;
use app::model::artifact::PredictionTable;

use crate::remote::{Login, RemoteError, Session};

/// `cipherfold he predict`'s options.
#[derive(Debug, Clone, Args)]
pub struct HePredictArgs {
    /// The Cipherfold server, e.g. `https://cipherfold.example.org`.
    #[arg(long, env = "CIPHERFOLD_SERVER")]
    pub server: Url,
    /// The model version's id (a linear or logistic regression).
    #[arg(long)]
    pub model: String,
    /// The rows: a .csv, .tsv, .json, .jsonl or .xlsx file with the model's input columns.
    #[arg(long)]
    pub input: PathBuf,
    /// The secret key file; made (readable by you alone) if it does not exist.
    #[arg(long, default_value = "cipherfold-he.key")]
    pub key: PathBuf,
    /// Rows per request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// An access token (`POST /api/auth/login`); otherwise log in with --username.
    #[arg(long, env = "CIPHERFOLD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Log in as this user; the password comes from CIPHERFOLD_PASSWORD or a prompt.
    #[arg(long, env = "CIPHERFOLD_USERNAME")]
    pub username: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HePredictError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Rows(String),
    #[error("{0}")]
    Crypto(#[from] app::he::HeError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

type Result<T> = std::result::Result<T, HePredictError>;

/// The key in `path`, or a new one written there (mode 0600, never overwritten).
fn key(path: &PathBuf) -> Result<ClientKey> {
    let shown = path.display().to_string();
    let file = |e: std::io::Error| HePredictError::File { path: shown.clone(), reason: e.to_string() };
    match std::fs::read(path) {
        Ok(bytes) => Ok(ClientKey::from_bytes(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = ClientKey::generate()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options.open(path).and_then(|mut f| f.write_all(&key.to_bytes())).map_err(file)?;
            eprintln!("made a new key in {shown} (keep it to yourself)");
            Ok(key)
        }
        Err(e) => Err(file(e)),
    }
}

/// Times of one run, summed over the requests.
#[derive(Default)]
struct Timings {
    encrypt: Duration,
    round_trip: Duration,
    decrypt: Duration,
    upload: usize,
    download: usize,
}

/// Runs the command: the predictions on standard output, timings on standard error.
pub async fn predict(args: HePredictArgs) -> Result<()> {
    let path = args.input.display().to_string();
    let bytes = std::fs::read(&args.input).map_err(|e| HePredictError::File { path: path.clone(), reason: e.to_string() })?;
    let name = args.input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.clone());
    let rows =
        app::table::file::rows_for_prediction(&bytes, &name, usize::MAX).map_err(|e| HePredictError::Rows(format!("{path}: {e}")))?;
    let login = Login { server: &args.server, token: args.token.as_deref(), username: args.username.as_deref(), offline_secs: 30 };
    let mut session = Session::open(login).await?;
    let offer: HeOffer = session.get(&format!("/api/models/{}/he", args.model)).await?;
    let key = key(&args.key)?;
    let mut times = Timings::default();
    let mut predictions = Vec::with_capacity(rows.len());
    let mut clipped = 0;
    for chunk in rows.chunks(args.batch as usize) {
        let (quantised, c) = offer.quantise_rows(chunk).map_err(|e| HePredictError::Rows(format!("{path}: {}", e.detail())))?;
        clipped += c;
        let started = Instant::now();
        let body = key.request(&offer, &quantised)?;
        times.encrypt += started.elapsed();
        times.upload += body.len();
        let started = Instant::now();
        let answer = session.post_bytes(&format!("/api/models/{}/predict-encrypted", args.model), body).await?;
        times.round_trip += started.elapsed();
        times.download += answer.len();
        let started = Instant::now();
        predictions.extend(key.predictions(&offer, &answer)?);
        times.decrypt += started.elapsed();
    }
    let columns: Vec<String> = rows.first().map(|r| r.keys().cloned().collect()).unwrap_or_default();
    let table = PredictionTable::new(&columns, &rows, &predictions);
    print!("{}", table.to_csv().map_err(|e| HePredictError::Rows(e.to_string()))?);
    let n = rows.len().max(1) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / n;
    eprintln!(
        "{} rows, encrypted under your key: encryption {:.3} ms/row, upload {} bytes/row, server and network {:.3} ms/row, \
         decryption {:.3} ms/row ({} bytes/row back: {} {} of {} words){}",
        rows.len(),
        per(times.encrypt),
        times.upload / rows.len().max(1),
        per(times.round_trip),
        per(times.decrypt),
        times.download / rows.len().max(1),
        offer.outputs,
        if offer.outputs == 1 { "ciphertext" } else { "ciphertexts" },
        CIPHERTEXT_WORDS,
        if clipped > 0 { format!("; {clipped} values were outside ±{} and were clipped", offer.spec.input_range) } else { String::new() }
    );
    Ok(())
}
