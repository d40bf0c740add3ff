//! Browser entry point. The server renders every page; this crate hydrates it, so the page
//! is usable before the wasm arrives and interactive after. Built with `--features worker`
//! (and without `page`) it is instead the sealing worker's bundle, the exports in `sealing`.

#[cfg(feature = "worker")]
pub mod sealing;
#[cfg(feature = "worker")]
pub mod worker;

/// Called by the hydration script that `leptos::HydrationScripts` puts in the page.
#[cfg(feature = "page")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::ui::App);
}
