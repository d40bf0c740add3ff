//! How training cost grows with rows, beside scikit-learn in the same run: linear regression,
//! logistic regression and a 100-tree random forest on 10,000, 100,000 and 1,000,000 rows × 20
//! features, each fit in its own process on one core and on two (`taskset`), with its time and
//! the peak memory the fit added to a process already holding the data.
//!
//! `scripts/bench-scaling.sh` (installs scikit-learn into the tools venv), or
//! `cargo bench -p app --bench scaling` with `CIPHERFOLD_PYTHON` naming a Python that has it.
//! `CIPHERFOLD_SCALING_ROWS=10000,100000` runs fewer sizes, `CIPHERFOLD_SCALING_THREADS=2`
//! only two threads, `CIPHERFOLD_SCALING_MODELS=logistic` one model (the 1M-row forests take
//! about 40 of the full run's 45 minutes on 2 cores).
//!
//! The data: 20 features uniform in [-1, 1), a regression target Σ (j+1)·xj + noise and a class
//! (that sum + noise > 0), written once as little-endian f64 rows of 22 numbers that both sides
//! read: the same rows for both.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use app::ml::forest::{Forest, ForestParams};
use app::ml::linear::{fit_linear, fit_logistic};
use app::ml::task::Task;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FEATURES: usize = 20;
const WIDTH: usize = FEATURES + 2;
const MODELS: [&str; 3] = ["linear", "logistic", "forest"];

fn write_data(path: &Path, rows: usize) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the data file"));
    for _ in 0..rows {
        let x: Vec<f64> = (0..FEATURES).map(|_| rng.random_range(-1.0..1.0)).collect();
        let score: f64 = x.iter().enumerate().map(|(j, v)| (j + 1) as f64 * v).sum();
        let target = score + rng.random_range(-1.0..1.0);
        let class = f64::from(u8::from(score + rng.random_range(-10.0..10.0) > 0.0));
        for v in x.iter().chain([&target, &class]) {
            out.write_all(&v.to_le_bytes()).expect("write the data file");
        }
    }
    out.flush().expect("write the data file");
}

/// `VmRSS` or `VmHWM` of this process, in bytes.
fn status(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.trim_start_matches(':').trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// One fit in this process: prints `{"seconds", "peak"}` (peak: bytes the fit added).
fn fit_one(model: &str, path: &Path, rows: usize) {
    let bytes = std::fs::read(path).expect("read the data file");
    let numbers: Vec<f64> = bytes.chunks_exact(8).take(rows * WIDTH).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))).collect();
    drop(bytes);
    let x = Array2::from_shape_fn((rows, FEATURES), |(i, j)| numbers[i * WIDTH + j]);
    let target: Vec<f64> = (0..rows).map(|i| numbers[i * WIDTH + FEATURES]).collect();
    let class: Vec<f64> = (0..rows).map(|i| numbers[i * WIDTH + FEATURES + 1]).collect();
    drop(numbers);
    // Resets the peak to what the process holds now (Linux `clear_refs` 5), so the peak read
    // after the fit is the fit's own.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status("VmRSS");
    let start = Instant::now();
    match model {
        "linear" => drop(fit_linear(x, target).expect("linear fits")),
        "logistic" => {
            let y: Vec<usize> = class.iter().map(|c| *c as usize).collect();
            drop(fit_logistic(x, &y, 2, 1.0, 200, None).expect("logistic fits"));
        }
        _ => drop(Forest::fit(&x, &class, Task::Classification { classes: 2 }, &ForestParams::default()).expect("forest fits")),
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{}", serde_json::json!({"seconds": seconds, "peak": status("VmHWM").saturating_sub(before)}));
}

const PYTHON: &str = r#"
import json, sys, time
import numpy as np
model, path, rows, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
a = np.fromfile(path, dtype="<f8", count=rows * 22).reshape(rows, 22)
X, target, cls = np.ascontiguousarray(a[:, :20]), a[:, 20].copy(), a[:, 21].astype(int)
del a
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.ensemble import RandomForestClassifier
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS")
t = time.perf_counter()
if model == "linear":
    LinearRegression().fit(X, target)
elif model == "logistic":
    LogisticRegression(C=1.0, max_iter=200).fit(X, cls)
else:
    RandomForestClassifier(100, n_jobs=threads, random_state=0).fit(X, cls)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak": max(0, status("VmHWM") - before)}))
"#;

/// (model, threads): one line of fits as rows grow.
type Series = (&'static str, usize);
/// (rows, our seconds, scikit-learn's seconds).
type Point = (usize, f64, Option<f64>);

struct Figure {
    seconds: f64,
    peak: u64,
}

fn run(mut cmd: Command) -> Option<Figure> {
    let out = cmd.output().ok().filter(|o| o.status.success())?;
    let v: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).ok()?;
    Some(Figure { seconds: v["seconds"].as_f64()?, peak: v["peak"].as_u64()? })
}

/// `taskset -c 0` (one core) or `-c 0,1`: both sides then see only those cores, ours through
/// `available_parallelism`, scikit-learn's BLAS through the affinity mask.
fn pinned(threads: usize, program: &str) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", if threads == 1 { "0" } else { "0,1" }, program]);
    cmd
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--fit") {
        let rows = args[i + 3].parse().expect("rows");
        return fit_one(&args[i + 1], Path::new(&args[i + 2]), rows);
    }
    let sizes: Vec<usize> = std::env::var("CIPHERFOLD_SCALING_ROWS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let thread_counts: Vec<usize> = std::env::var("CIPHERFOLD_SCALING_THREADS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).filter(|n| [1, 2].contains(n)).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let models: Vec<&str> = match std::env::var("CIPHERFOLD_SCALING_MODELS") {
        Ok(list) => MODELS.into_iter().filter(|m| list.split(',').any(|n| n.trim() == *m)).collect(),
        Err(_) => MODELS.to_vec(),
    };
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("cipherfold-scaling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = dir.join("rows.f64");
    write_data(&data, largest);
    let me = std::env::current_exe().expect("this benchmark's path");
    let python = std::env::var("CIPHERFOLD_PYTHON").unwrap_or_else(|_| "python3".into());

    println!("model      rows       threads   cipherfold (peak MB)   scikit-learn (peak MB)   time ratio (ours / sklearn)");
    let mut series: Vec<(Series, Vec<Point>)> = Vec::new();
    for &rows in &sizes {
        for &model in &models {
            for &threads in &thread_counts {
                let mut ours = pinned(threads, me.to_str().expect("a UTF-8 path"));
                ours.args(["--fit", model]).arg(&data).arg(rows.to_string());
                let Some(ours) = run(ours) else {
                    println!("{model:<10} {rows:<10} {threads:<9} failed");
                    continue;
                };
                let mut reference = pinned(threads, &python);
                reference.args(["-c", PYTHON, model]).arg(&data).args([rows.to_string(), threads.to_string()]);
                let reference = run(reference);
                let mb = |b: u64| b as f64 / 1e6;
                match &reference {
                    Some(r) => println!(
                        "{model:<10} {rows:<10} {threads:<9} {:>9.3} s ({:>6.1})   {:>9.3} s ({:>6.1})      {:.2}×",
                        ours.seconds,
                        mb(ours.peak),
                        r.seconds,
                        mb(r.peak),
                        ours.seconds / r.seconds
                    ),
                    None => println!(
                        "{model:<10} {rows:<10} {threads:<9} {:>9.3} s ({:>6.1})   – (no Python with scikit-learn)",
                        ours.seconds,
                        mb(ours.peak)
                    ),
                }
                let key = (model, threads);
                let point = (rows, ours.seconds, reference.map(|r| r.seconds));
                match series.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, points)) => points.push(point),
                    None => series.push((key, vec![point])),
                }
            }
        }
    }
    println!("\nraw data: {} bytes a row (20 f64 features); 1,000,000 rows = 160 MB", FEATURES * 8);
    println!("slope: how time grows with rows (time ∝ rows^slope), from the smallest to the largest size");
    for ((model, threads), points) in &series {
        let (Some(first), Some(last)) = (points.first(), points.last()) else { continue };
        if last.0 == first.0 {
            continue;
        }
        let slope = |a: f64, b: f64| (b / a).ln() / (last.0 as f64 / first.0 as f64).ln();
        let reference = match (first.2, last.2) {
            (Some(a), Some(b)) => format!("{:.2}", slope(a, b)),
            _ => "–".into(),
        };
        println!("{model:<10} {threads} thread(s): cipherfold {:.2}, scikit-learn {reference}", slope(first.1, last.1));
    }
    for (model, _) in series.iter().filter(|((_, t), _)| *t == 1) {
        let at = |threads: usize| series.iter().find(|(k, _)| *k == (model.0, threads)).and_then(|(_, p)| p.last().copied());
        if let (Some(one), Some(two)) = (at(1), at(2)) {
            let reference = match (one.2, two.2) {
                (Some(a), Some(b)) => format!("{:.2}×", a / b),
                _ => "–".into(),
            };
            println!("{:<10} one → two threads at {} rows: cipherfold {:.2}×, scikit-learn {reference}", model.0, one.0, one.1 / two.1);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
