//! Trainer benchmarks against pandas and scikit-learn, measured in the same run on the same
//! data: CSV parse of 200,000 × 20 numbers, a linear regression fit on it, and a 100-tree
//! random forest with 5-fold cross-validation on iris. Each figure is the best of 3.
//!
//! `scripts/bench-trainer.sh` (installs pandas and scikit-learn into the tools venv), or
//! `cargo bench -p app --bench trainer` with `CIPHERFOLD_PYTHON` naming a Python that has them.

mod common;

use app::ml::linear::fit_linear;
use app::table::scan::CsvScanner;
use app::table::{Format, ParseOptions, Table};
use common::best_of_3;
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ROWS: usize = 200_000;
const COLS: usize = 20;

/// Columns c0..c18 uniform in [-1, 1), y = Σ (j+1)·cj + noise.
fn write_csv(path: &std::path::Path) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut s = String::with_capacity(ROWS * COLS * 10);
    s.push_str(&(0..COLS - 1).map(|j| format!("c{j}")).chain(["y".to_owned()]).collect::<Vec<_>>().join(","));
    s.push('\n');
    for _ in 0..ROWS {
        let x: Vec<f64> = (0..COLS - 1).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y: f64 = x.iter().enumerate().map(|(j, v)| (j + 1) as f64 * v).sum::<f64>() + rng.random_range(-0.1..0.1);
        for v in &x {
            s.push_str(&format!("{v:.6},"));
        }
        s.push_str(&format!("{y:.6}\n"));
    }
    std::fs::write(path, s).expect("write the CSV");
}

const PYTHON: &str = r#"
import json, sys, time
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
def best(f):
    out = []
    for _ in range(3):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return min(out)
big, iris = sys.argv[1], sys.argv[2]
parse = best(lambda: pd.read_csv(big))
df = pd.read_csv(big)
X, y = df.drop(columns="y").to_numpy(), df["y"].to_numpy()
linear = best(lambda: LinearRegression().fit(X, y))
ir = pd.read_csv(iris)
Xi, yi = ir.drop(columns="species").to_numpy(), ir["species"].to_numpy()
cv = StratifiedKFold(5, shuffle=True, random_state=0)
forest = best(lambda: cross_val_score(RandomForestClassifier(100, random_state=0), Xi, yi, cv=cv))
print(json.dumps({"parse": parse, "linear": linear, "forest": forest, "pandas": pd.__version__}))
"#;

fn main() {
    let dir = std::env::temp_dir().join(format!("cipherfold-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = dir.join("numbers.csv");
    write_csv(&big);
    let bytes = std::fs::read(&big).expect("read the CSV");
    let iris_path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/iris.csv");
    let iris = Table::parse(&std::fs::read(iris_path).expect("iris"), Format::Csv, &ParseOptions::default()).expect("iris parses");

    let parse = best_of_3(|| {
        Table::parse(&bytes, Format::Csv, &ParseOptions::default()).expect("parses");
    });
    // The browser's preview reader (the worker's wasm runs this code) in its 8 MiB pieces.
    let scan = best_of_3(|| {
        CsvScanner::scan(&bytes, ParseOptions::default(), 8 << 20).expect("scans");
    });
    let table = Table::parse(&bytes, Format::Csv, &ParseOptions::default()).expect("parses");
    let mut x = Array2::zeros((ROWS, COLS - 1));
    let mut y = Vec::with_capacity(ROWS);
    for (i, r) in table.rows().enumerate() {
        for j in 0..COLS - 1 {
            x[[i, j]] = r[j].as_f64().unwrap_or(0.0);
        }
        y.push(r[COLS - 1].as_f64().unwrap_or(0.0));
    }
    let linear = best_of_3(|| {
        fit_linear(x.clone(), y.clone()).expect("fits");
    });
    let spec: app::ml::train::TrainSpec = serde_json::from_value(
        serde_json::json!({"target": "species", "cv_folds": 5, "model": {"kind": "forest", "params": {"trees": 100}}}),
    )
    .expect("spec");
    let forest = best_of_3(|| {
        app::ml::train::train(&[&iris], &spec, &mut app::ml::model::Quiet).expect("trains");
    });

    let python = std::env::var("CIPHERFOLD_PYTHON").unwrap_or_else(|_| "python3".into());
    let reference = std::process::Command::new(&python)
        .args(["-c", PYTHON])
        .arg(&big)
        .arg(iris_path)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok());
    let _ = std::fs::remove_dir_all(&dir);

    println!("workload                                   cipherfold   reference   ratio (ours / reference)");
    let rows = [
        ("CSV parse, 200,000 × 20 (pandas read_csv)", parse, "parse"),
        ("CSV preview scan, same file (read_csv)", scan, "parse"),
        ("linear regression fit (scikit-learn)", linear, "linear"),
        ("random forest 100 trees, 5-fold CV, iris", forest, "forest"),
    ];
    for (name, ours, key) in rows {
        match reference.as_ref().and_then(|r| r[key].as_f64()) {
            Some(r) => println!("{name:<42} {ours:>9.3} s {r:>9.3} s   {:.2}×", ours / r),
            None => println!("{name:<42} {ours:>9.3} s         –   (no Python with pandas and scikit-learn)"),
        }
    }
    if let Some(v) = reference.as_ref().and_then(|r| r["pandas"].as_str()) {
        println!("(pandas {v}; the random forest also includes our preprocessing and the refit on all rows)");
    }
}
