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
    // Asynchronously (what `leptos::mount::hydrate_lazy` does), not `hydrate_body`: a lazily
    // loaded route (`app::ui`'s `lazy_page!`) is hydrated once its module has arrived. The page
    // counts as hydrated only after that.
    let hydrated = app::ui::file_worker::Hydrated::pending();
    wasm_bindgen_futures::spawn_local(async move {
        let Some(body) = leptos::prelude::document().body() else { return };
        let mounted = leptos::mount::hydrate_from_async(body, move || {
            leptos::prelude::provide_context(hydrated);
            app::ui::App()
        })
        .await;
        mounted.forget();
        hydrated.done();
    });
}
