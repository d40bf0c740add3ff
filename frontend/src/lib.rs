//! Browser entry point. The server renders every page; this crate only hydrates it,
//! so the page is usable before the wasm arrives and interactive after.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script that `leptos::HydrationScripts` puts in the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::ui::App);
}
