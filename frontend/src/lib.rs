//! Browser entry point. The server renders every page; this crate hydrates it, so the page
//! is usable before the wasm arrives and interactive after. The same bundle is loaded by the
//! sealing worker, which calls the exports in [`sealing`].

use wasm_bindgen::prelude::wasm_bindgen;

pub mod sealing;

/// Called by the hydration script that `leptos::HydrationScripts` puts in the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::ui::App);
}
