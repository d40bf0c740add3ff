//! `cipherfold-wasm-split INPUT.wasm PKG-DIR MAIN-OUT.wasm OUTPUT-NAME MERGE-BYTES`
//!
//! Splits a page bundle linked with `--emit-relocs` at its `#[lazy]` functions, as
//! cargo-leptos' `--split` does: the main module goes to MAIN-OUT (for wasm-bindgen, with
//! `--keep-lld-exports`), each lazily loaded module and the loader
//! `__wasm_split.______________________.js` to PKG-DIR, and `__wasm_split_manifest.json`
//! (split name → the modules it needs) beside them, which `leptos::HydrationScripts` reads
//! to preload the modules of the route a page was rendered for. Prints each module's path.
//!
//! MERGE-BYTES: shared modules are merged while a merge makes routes download at most that
//! many bytes of code they do not run per module fetch it saves them (merge-chunks.patch, on
//! the library; 0 keeps one module per set of routes that share code).

use std::path::Path;
use std::process::ExitCode;

/// The loader's name as `leptos::HydrationScripts` expects it (leptos/src/hydration/mod.rs):
/// the underscores stand where cargo-leptos puts a content hash when it hashes file names.
const LINK_NAME: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pkg_dir, main_out, output_name, merge] = args.as_slice() else {
        eprintln!("usage: cipherfold-wasm-split INPUT.wasm PKG-DIR MAIN-OUT.wasm OUTPUT-NAME MERGE-BYTES");
        return ExitCode::from(2);
    };
    let Ok(merge) = merge.parse::<usize>() else {
        eprintln!("cipherfold-wasm-split: MERGE-BYTES must be a whole number of bytes, not {merge:?}");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(pkg_dir), Path::new(main_out), output_name, merge) {
        Ok(modules) => {
            for m in modules {
                println!("{}", m.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cipherfold-wasm-split: {e}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, pkg_dir: &Path, main_out: &Path, output_name: &str, merge: usize) -> Result<Vec<std::path::PathBuf>, String> {
    let wasm = std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    // The loader imports `initSync` and the memory from the page's wasm-bindgen module.
    let main_module = format!("./{output_name}.js");
    let mut opts = wasm_split_cli_support::Options::new(&wasm);
    opts.output_dir = pkg_dir;
    opts.main_out_path = main_out;
    opts.main_module = &main_module;
    opts.link_name = LINK_NAME;
    opts.merge_chunks_bytes_per_fetch = merge;
    let out = wasm_split_cli_support::transform(opts).map_err(|e| format!("splitting {}: {e:?}", input.display()))?;
    let manifest = serde_json::to_string_pretty(&out.prefetch_map).map_err(|e| e.to_string())?;
    let manifest_path = pkg_dir.join(MANIFEST);
    std::fs::write(&manifest_path, manifest).map_err(|e| format!("writing {}: {e}", manifest_path.display()))?;
    Ok(out.split_modules)
}
