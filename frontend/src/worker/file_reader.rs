//! A picked file read in pieces for the CSV preview by a worker of its own
//! (`public/file-reader.js`, started with the file worker), so the file worker only parses.
//!
//! Why: Chromium copies a Blob read into its ArrayBuffer on the thread that asked for it,
//! between that thread's tasks. Reading ahead for itself, the file worker still made every
//! copy between two pieces of its parse: timed inside the worker, a 38 MB numeric CSV's
//! preview waited 33-61 ms of its 94-144 ms for reads. The reader transfers each piece (no
//! copy) and reads the next ones on another thread meanwhile.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Event, File, MessageEvent, Worker};

use super::{Failure, Result};

/// Pieces the reader sends before the parse takes one: one being read while another waits.
/// Measured with 38 MB: 2 of 8 MiB waited 16-18 ms in all, against 41-69 ms reading in place,
/// and smaller pieces waited longer (each read has its own cost in the browser process).
const AHEAD: u32 = 2;

/// The first piece's size: the parse waits for it, and a smaller read arrives sooner.
const FIRST: f64 = (1 << 20) as f64;

/// The reader worker and the messages it sent that no one took yet.
pub(super) struct FileReader {
    worker: Worker,
    inbox: Rc<RefCell<Inbox>>,
    /// The last read started; messages of earlier ones are dropped.
    job: Cell<u32>,
    _on_message: Closure<dyn Fn(MessageEvent)>,
    _on_error: Closure<dyn Fn(Event)>,
}

#[derive(Default)]
struct Inbox {
    /// Oldest first; at most `AHEAD` pieces and an end.
    messages: Vec<JsValue>,
    /// Resolves the promise a read waits on when the inbox was empty.
    wake: Option<js_sys::Function>,
    /// The reader's script failed (did not load, or threw): nothing more will come.
    failed: bool,
}

impl Inbox {
    /// Changes the inbox and wakes the read waiting on it.
    fn rouse(inbox: &RefCell<Inbox>, change: impl FnOnce(&mut Inbox)) {
        let wake = {
            let mut inbox = inbox.borrow_mut();
            change(&mut inbox);
            inbox.wake.take()
        };
        if let Some(wake) = wake {
            let _ = wake.call0(&JsValue::NULL);
        }
    }
}

impl FileReader {
    /// The reader, started now so it is ready by the first pick; `None` where a worker cannot
    /// start one (the file worker then reads for itself, as before).
    pub(super) fn start() -> Option<FileReader> {
        let worker = Worker::new("/file-reader.js").ok()?;
        let inbox = Rc::new(RefCell::new(Inbox::default()));
        let on_message = {
            let inbox = inbox.clone();
            Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| Inbox::rouse(&inbox, |i| i.messages.push(e.data())))
        };
        // A script that is missing (`Worker::new` succeeds before it is fetched) or throws.
        let on_error = {
            let inbox = inbox.clone();
            Closure::<dyn Fn(Event)>::new(move |_| Inbox::rouse(&inbox, |i| i.failed = true))
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Some(FileReader { worker, inbox, job: Cell::new(0), _on_message: on_message, _on_error: on_error })
    }

    /// Whether it still reads: after a failure the file worker reads for itself.
    pub(super) fn works(&self) -> bool {
        !self.inbox.borrow().failed
    }

    /// Starts reading `file` in pieces of `piece` bytes, in place of any read before.
    pub(super) fn read(&self, file: &File, piece: f64) -> Result<Pieces<'_>> {
        let job = self.job.get().wrapping_add(1);
        self.job.set(job);
        // A read this one replaces, waiting for a message, wakes to find it is replaced.
        Inbox::rouse(&self.inbox, |i| i.messages.clear());
        let first = FIRST.min(piece);
        self.send(&js_sys::Array::of5(&job.into(), file, &first.into(), &piece.into(), &AHEAD.into()))?;
        Ok(Pieces { reader: self, job, done: false })
    }

    /// `[job, "more"]` or `[job, "stop"]`.
    fn tell(&self, job: u32, what: &str) -> Result<()> {
        self.send(&js_sys::Array::of2(&job.into(), &what.into()))
    }

    fn send(&self, message: &js_sys::Array) -> Result<()> {
        Ok(self.worker.post_message(message)?)
    }

    /// The next message of read `job`, waiting for one when none came yet; `None` once another
    /// read replaced it or the reader failed.
    async fn message(&self, job: u32) -> Result<Option<JsValue>> {
        loop {
            if self.job.get() != job || !self.works() {
                return Ok(None);
            }
            let next = {
                let mut inbox = self.inbox.borrow_mut();
                (!inbox.messages.is_empty()).then(|| inbox.messages.remove(0))
            };
            if next.is_some() {
                return Ok(next);
            }
            let inbox = self.inbox.clone();
            let arrived = js_sys::Promise::new(&mut |resolve, _| inbox.borrow_mut().wake = Some(resolve));
            JsFuture::from(arrived).await?;
        }
    }
}

/// What [`Pieces::next`] gives.
pub(super) enum Next {
    /// A piece's bytes, and where it ends in the file.
    Piece(Vec<u8>, f64),
    /// The file's end.
    End,
    /// The reader failed (its script did not load, perhaps after the read began): the rest
    /// of the file is the caller's to read.
    Stopped,
}

/// One file's pieces, in order; dropping it stops the read.
pub(super) struct Pieces<'a> {
    reader: &'a FileReader,
    job: u32,
    done: bool,
}

impl Pieces<'_> {
    /// The next piece.
    pub(super) async fn next(&mut self) -> Result<Next> {
        while !self.done {
            let Some(message) = self.reader.message(self.job).await? else {
                self.done = true;
                return if self.reader.works() { Err(Failure::Replaced) } else { Ok(Next::Stopped) };
            };
            // `[job, piece, end]`, `[job, null]` at the end, `[job, "why"]` on a failed read.
            let message: js_sys::Array = message.unchecked_into();
            if message.get(0).as_f64() != Some(f64::from(self.job)) {
                continue;
            }
            let piece = message.get(1);
            if let Some(error) = piece.as_string() {
                self.done = true;
                return Err(Failure::Message(error));
            }
            if piece.is_null() {
                self.done = true;
                break;
            }
            let bytes = js_sys::Uint8Array::new(&piece).to_vec();
            let end = message.get(2).as_f64().unwrap_or(0.0);
            // The reader may read one more while this one is parsed.
            self.reader.tell(self.job, "more")?;
            return Ok(Next::Piece(bytes, end));
        }
        Ok(Next::End)
    }
}

impl Drop for Pieces<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.reader.tell(self.job, "stop");
        }
    }
}
