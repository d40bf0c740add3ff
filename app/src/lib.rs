//! Cipherfold's shared crate. It compiles for the server (`ssr`) and for the browser
//! (`hydrate`, wasm32), so anything both sides must agree on lives here: wire types,
//! the domain catalog, pure logic and the UI itself. It never depends on the database or the
//! object store; those are the server's business. tfhe only comes with the `he` feature
//! (`he::lwe`), which the server and the browser's worker enable and the page bundle does not.
#![forbid(unsafe_code)]
// Leptos views are nested types; the upload form's is deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod api;
pub mod crypto;
pub mod dp;
pub mod file_worker;
pub mod fl;
pub mod he;
pub mod ml;
pub mod model;
pub mod table;
pub mod ui;

/// Threads worth starting for work split in parts (the CSV reader, a forest's predictions):
/// the machine's cores natively; one in the browser, where wasm has no threads.
pub fn cores() -> usize {
    if cfg!(target_arch = "wasm32") {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// The version every build of the workspace reports (footer, `/api/health`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
