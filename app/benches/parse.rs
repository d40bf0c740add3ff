//! The native side of the browser parse benchmark (`scripts/bench-parse.sh`): reads the CSV
//! named on the command line with the preview scanner (the code the browser's worker runs as
//! wasm, in the same 8 MiB pieces) and with the trainer's whole-file parser, and prints the best
//! of 3 seconds of each as JSON for the browser benchmark to print beside its own figure.

mod common;

use app::table::scan::CsvScanner;
use app::table::{Format, ParseOptions, Table};
use common::best_of_3;

fn main() {
    // `cargo bench` adds `--bench`; the path is the one argument that is not a flag.
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench -p app --bench parse -- <file.csv>");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut rows = 0;
    let scan = best_of_3(|| rows = CsvScanner::scan(&bytes, ParseOptions::default(), 8 << 20).expect("the file scans").rows);
    let parse = best_of_3(|| {
        Table::parse(&bytes, Format::Csv, &ParseOptions::default()).expect("the file parses");
    });
    println!("{}", serde_json::json!({ "bytes": bytes.len(), "rows": rows, "scan": scan, "parse": parse, "cores": app::cores() }));
}
