//! A 100 MB dataset's way in and the trainer's way back out, on the optimised build, on a node
//! as deployed (embedded SurrealKV on disk, objects in a directory), over loopback:
//! - native parse (what a CLI participant's preview does) and seal (the envelope in Rust),
//! - upload: declare + `PUT` of the ciphertext over HTTP,
//! - the trainer's open (`open_for_training`: unwrap the key; fetch, decrypt and parse as it
//!   streams), by phase, best of 3, and its peak memory.
//!
//! Baselines measured in the same run on the same bytes: reading the stored ciphertext file
//! from disk (what any open must at least do) and AES-256-GCM decryption of one buffer of the
//! same size with the same crate (what decrypting must at least cost); for memory, the open as
//! it was before it parsed as it decrypted (the whole plaintext, then the parse). The browser's
//! side (WebCrypto sealing, the page's parse) is `scripts/bench-upload.sh`.
//!
//! `cargo bench -p server --bench open` (`scripts/bench-open.sh`). `CIPHERFOLD_BENCH_MB`
//! changes the size (1000 for issue 17's 1 GB file).

#[path = "../tests/api/common/mod.rs"]
mod common;

use std::io::Read;
use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use app::crypto::dataset_id_bytes;
use app::crypto::envelope::StreamOpener;
use app::table::{Format, ParseOptions, Table};
use rand::{Rng, SeedableRng};

use common::{walk, TestServer};

const FEATURES: usize = 20;
/// The goals of issue 17 for the trainer's open, and for an upload end to end.
const OPEN_GOAL_MBPS: f64 = 200.0;
const UPLOAD_GOAL_MBPS: f64 = 100.0;

/// A CSV of at least `bytes` bytes: 20 numbers with four decimals and a class label a row.
fn csv(bytes: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut s = (0..FEATURES).map(|j| format!("f{j:02}")).collect::<Vec<_>>().join(",");
    s.push_str(",label\n");
    while s.len() < bytes {
        for _ in 0..FEATURES {
            s.push_str(&format!("{:.4},", rng.random_range(-100.0..100.0)));
        }
        s.push_str(if rng.random_bool(0.5) { "yes\n" } else { "no\n" });
    }
    s.into_bytes()
}

fn best_of_3<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("three runs"))
}

/// The most memory the process holds from `start` to `end`, above what it held at `start`
/// (Linux: `clear_refs` 5 resets the high-water mark `VmHWM` to the current size), and what
/// it still holds above that at `end` (what the measured code returned).
struct Peak(u64);

extern "C" {
    /// glibc's: returns freed heap memory to the system. Without it, memory the earlier runs
    /// freed stays resident and is reused unseen, and a peak reads low.
    fn malloc_trim(pad: usize) -> i32;
}

impl Peak {
    fn status(field: &str) -> u64 {
        let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    fn start() -> Peak {
        // SAFETY: malloc_trim only walks glibc's own heap; no pointer of ours is involved.
        unsafe { malloc_trim(0) };
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        Peak(Peak::status("VmRSS"))
    }

    /// (peak, held): both above what the process held at `start`.
    fn end(self) -> (u64, u64) {
        (Peak::status("VmHWM").saturating_sub(self.0), Peak::status("VmRSS").saturating_sub(self.0))
    }
}

fn line(label: &str, mb: f64, secs: f64) {
    println!("  {label:<44} {secs:>7.3} s  {:>7.0} MB/s", mb / secs);
}

#[tokio::main]
async fn main() {
    let size: usize = std::env::var("CIPHERFOLD_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(100) * 1_000_000;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let srv = TestServer::on_disk(dir.path()).await;
    let owner = srv.remote.user("owner").await;
    let token = owner.access.as_str();

    let plain = csv(size);
    let mb = plain.len() as f64 / 1e6;
    println!("a {mb:.0} MB CSV ({FEATURES} numeric columns and a label) in and out of a node on loopback:");
    let (parse, table) = best_of_3(|| Table::parse(&plain, Format::Csv, &ParseOptions::default()).expect("parses"));
    line(&format!("native parse ({} rows)", table.len()), mb, parse);
    drop(table);
    // `seal` parses for the declaration too; the envelope alone is the difference.
    let t = Instant::now();
    let sealed = srv.seal(&plain, Format::Csv, None, app::crypto::envelope::DEFAULT_CHUNK_SIZE).await;
    line("native seal (parse for the declaration + envelope)", mb, t.elapsed().as_secs_f64());
    let t = Instant::now();
    srv.store_dataset(token, &sealed).await;
    let upload = t.elapsed().as_secs_f64();
    line("upload: declare + PUT of the ciphertext", mb, upload);

    let mut phases: Vec<(String, f64)> = Vec::new();
    let mut open = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let (table, watch) = srv.backend.datasets.open_timed(&sealed.id, "benchmark").await.expect("opens");
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(table);
        if secs < open {
            open = secs;
            phases = watch.phases().iter().map(|(n, d)| ((*n).to_owned(), d.as_secs_f64())).collect();
        }
    }
    line("trainer's open, end to end (best of 3)", mb, open);
    for (name, secs) in &phases {
        line(&format!("  {name}"), mb, *secs);
    }

    let stored = walk(&dir.path().join("objects"))
        .into_iter()
        .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("the stored object");

    // Peak memory above what the process held before, one open at a time.
    let measure = Peak::start();
    let table = srv.backend.datasets.open_for_training(&sealed.id, "benchmark").await.expect("opens");
    let open_peak = measure.end();
    let rows = table.len();
    drop(table);
    let measure = Peak::start();
    let whole = {
        // The open before this change: every piece decrypted into one buffer, then parsed.
        let mut opener = StreamOpener::new(sealed.key.clone(), dataset_id_bytes(&sealed.id).expect("an id"), sealed.envelope.len() as u64);
        let mut file = std::fs::File::open(&stored).expect("open the object");
        let mut piece = vec![0u8; 1 << 20];
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(sealed.plaintext.len()));
        loop {
            let n = file.read(&mut piece).expect("read the object");
            if n == 0 {
                break;
            }
            opener.feed(&piece[..n], &mut plain).expect("decrypts");
        }
        Table::parse_declared(&plain, Format::Csv, &sealed.declared.parse_options, &sealed.declared.schema).expect("parses")
    };
    let whole_peak = measure.end();
    assert_eq!(whole.len(), rows);
    drop(whole);
    let per = |(peak, held): (u64, u64)| {
        let file = plain.len() as f64;
        format!("peak {:>5.0} MB ({:.2}× the file), {:>5.0} MB of it the table", peak as f64 / 1e6, peak as f64 / file, held as f64 / 1e6)
    };
    println!("  memory of one open, above what the process held before ({rows} rows):");
    println!("    {:<40} {}", "as it decrypts, a window at a time", per(open_peak));
    println!("    {:<40} {}", "baseline: whole plaintext, then parse", per(whole_peak));

    // Baselines on the same bytes.
    let (read, bytes) = best_of_3(|| std::fs::read(&stored).expect("read the object"));
    line("baseline: read the stored ciphertext file", bytes.len() as f64 / 1e6, read);
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let nonce = Nonce::from([1u8; 12]);
    let one = cipher.encrypt(&nonce, plain.as_slice()).expect("encrypts");
    let (decrypt, _) = best_of_3(|| cipher.decrypt(&nonce, one.as_slice()).expect("decrypts"));
    line("baseline: AES-256-GCM decrypt of one buffer", mb, decrypt);
    println!(
        "  open {:.0} MB/s (goal ≥ {OPEN_GOAL_MBPS:.0}: {}), {:.2}× the time of reading + decrypting alone; \
         upload {:.0} MB/s on the server's side (goal ≥ {UPLOAD_GOAL_MBPS:.0} end to end from a browser)",
        mb / open,
        if mb / open >= OPEN_GOAL_MBPS { "met" } else { "not met" },
        open / (read + decrypt),
        mb / upload,
    );
}
