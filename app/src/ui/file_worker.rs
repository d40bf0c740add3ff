//! A page's side of the file worker (`crate::file_worker` has the messages): started on first
//! use, so rendering a page on the server never touches it, and stopped when the page goes
//! away (client-side navigation drops its owner). Browser handles sit in the reactive graph
//! inside a `SendWrapper`, created only in the browser: the server's graph only ever holds
//! `None`, so it never drops one on another thread. Also the small pieces the file pages share:
//! a table of cells and an error line that takes the focus.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::wasm_bindgen::closure::Closure;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys;
use send_wrapper::SendWrapper;

use crate::file_worker::{reply_from_js, to_message, WorkerBundle, WorkerReply, WorkerRequest};
use crate::table::{Cell, Column};

/// The loader `scripts/build-site.sh` ships; it loads the Rust message loop of the bundle
/// named by its `bundle` parameter.
const SCRIPT: &str = "/seal-worker.js";

struct Running {
    bundle: WorkerBundle,
    worker: web_sys::Worker,
    _on_message: Closure<dyn Fn(web_sys::MessageEvent)>,
    _on_error: Closure<dyn Fn(web_sys::Event)>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// One page's worker and what it does with the replies. A `Files` page's worker is replaced by
/// the Excel bundle's for a request that reads an Excel file, and back. The one state a worker
/// keeps between two of a `Files` page's requests is the file it sealed ahead after a preview;
/// a replaced worker loses it, and the upload then reads and seals the file again.
#[derive(Clone, Copy)]
pub struct FileWorker {
    bundle: WorkerBundle,
    running: StoredValue<Option<SendWrapper<Running>>>,
    on_reply: StoredValue<Arc<dyn Fn(WorkerReply) + Send + Sync>>,
}

impl FileWorker {
    /// A handle on `bundle`'s worker whose replies go to `on_reply` (browser only; nothing
    /// starts yet).
    pub fn new(bundle: WorkerBundle, on_reply: impl Fn(WorkerReply) + Send + Sync + 'static) -> Self {
        let on_reply: Arc<dyn Fn(WorkerReply) + Send + Sync> = Arc::new(on_reply);
        FileWorker { bundle, running: StoredValue::new(None), on_reply: StoredValue::new(on_reply) }
    }

    /// Sends a request (with the file it reads), starting the worker that runs it first if
    /// need be; a cancel goes to the worker running. A worker that cannot start answers
    /// `Failed` through the same callback.
    pub fn send(&self, request: &WorkerRequest, file: Option<&web_sys::File>) {
        let on_reply = self.on_reply.get_value();
        let bundle = self.bundle.for_request(request, file.map(|f| f.name()).as_deref());
        if !bundle.serves(request) {
            on_reply(WorkerReply::Failed { message: format!("this page's file reader ({}) does not take that request", bundle.module()) });
            return;
        }
        let started = if *request == WorkerRequest::Cancel { Ok(()) } else { self.start(bundle) };
        let sent = started.and_then(|()| {
            let message = to_message(request, file)?;
            self.running.with_value(|r| match r {
                Some(r) => r.worker.post_message(&message).map_err(|_| "the file reader did not take the request".to_owned()),
                // Nothing running has nothing to cancel.
                None if *request == WorkerRequest::Cancel => Ok(()),
                None => Err("the file reader is not running".to_owned()),
            })
        });
        if let Err(message) = sent {
            on_reply(WorkerReply::Failed { message });
        }
    }

    /// Starts the page's worker now, so its bundle loads and compiles while the person looks
    /// for their file (about a second on a fast machine, more on a phone) rather than after
    /// they pick it. A failure here is reported by the first `send`, which tries again.
    pub fn start_early(&self) {
        let _ = self.start(self.bundle);
    }

    /// Starts `bundle`'s worker unless it is the one running (another one is stopped).
    fn start(&self, bundle: WorkerBundle) -> Result<(), String> {
        if self.running.with_value(|r| r.as_ref().is_some_and(|r| r.bundle == bundle)) {
            return Ok(());
        }
        self.running.set_value(None);
        let options = web_sys::WorkerOptions::new();
        options.set_type(web_sys::WorkerType::Module);
        let worker = web_sys::Worker::new_with_options(&format!("{SCRIPT}?bundle={}", bundle.module()), &options)
            .map_err(|_| "this browser cannot start the file reader (a module Web Worker); use a current browser".to_owned())?;
        let on_reply = self.on_reply.get_value();
        let on_message = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            on_reply(reply_from_js(e.data()).unwrap_or_else(|message| WorkerReply::Failed { message }));
        });
        let on_reply = self.on_reply.get_value();
        let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
            on_reply(WorkerReply::Failed { message: "the file reader stopped unexpectedly; reload the page and try again".into() });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        self.running.set_value(Some(SendWrapper::new(Running { bundle, worker, _on_message: on_message, _on_error: on_error })));
        Ok(())
    }
}

/// Whether the page has hydrated. A file input is disabled until then: a file picked into the
/// server's HTML before the page's code runs would show its name and never be read.
///
/// The browser's entry point (frontend's `hydrate`) sets it once hydration has ended, which
/// for a lazily loaded route is after its module arrived; an effect would run as soon as
/// `App` is hydrated, while the route is still the server's HTML.
#[derive(Clone, Copy)]
pub struct Hydrated(RwSignal<bool>);

impl Hydrated {
    /// Not hydrated: the server's answer, and the browser's until [`Hydrated::done`].
    pub fn pending() -> Self {
        Self(RwSignal::new(false))
    }

    /// Every part of the page is hydrated: inputs waiting for it are enabled, and
    /// `<body data-hydrated="true">` is a marker tests (and curious people) can wait for.
    pub fn done(self) {
        self.0.set(true);
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    }
}

/// True once the page's code runs (always true for a component made in the browser).
pub fn use_hydrated() -> Signal<bool> {
    let hydrated = use_context::<Hydrated>().map(|h| h.0);
    Signal::derive(move || hydrated.is_none_or(|h| h.get()))
}

/// The file an `<input type="file">` holds, if any.
pub fn picked_file(input: NodeRef<leptos::html::Input>) -> Option<web_sys::File> {
    input.get_untracked()?.files()?.get(0)
}

/// A picked file kept between events (browser only; see the module's note).
pub type KeptFile = StoredValue<Option<SendWrapper<web_sys::File>>>;

/// Rows of a parsed or opened file under their columns' names and kinds.
#[component]
pub fn CellTable(columns: Vec<Column>, rows: Vec<Vec<Cell>>, caption: String) -> impl IntoView {
    view! {
        <table class="data">
            <caption>{caption}</caption>
            <thead><tr>
                {columns.iter().map(|c| view! { <th scope="col">{c.label()}</th> }).collect_view()}
            </tr></thead>
            <tbody>
                {rows.iter().map(|r| view! { <tr>{r.iter().map(|c| view! { <td>{c.to_string()}</td> }).collect_view()}</tr> }).collect_view()}
            </tbody>
        </table>
    }
}

/// An error line (`role="alert"`) that is hidden while empty and takes the keyboard focus
/// when a message arrives, so a screen reader and a keyboard user land on it.
#[component]
pub fn ErrorLine(id: &'static str, #[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    let line = NodeRef::<leptos::html::P>::new();
    Effect::new(move |_| {
        if message.get().is_some() {
            if let Some(p) = line.get() {
                let _ = p.focus();
            }
        }
    });
    view! {
        <p id=id node_ref=line class="form-error" role="alert" tabindex="-1" hidden=move || message.with(Option::is_none)>
            {move || message.get()}
        </p>
    }
}
