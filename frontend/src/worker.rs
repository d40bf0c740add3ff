//! The file worker's message loop: it answers the pages' `app::file_worker::WorkerRequest`s
//! with `WorkerReply`s. One loop, four bundles (`app::file_worker::WorkerBundle`):
//! `pkg/cipherfold_worker.js` (`--features worker`: CSV and JSON, sealing, upload, open),
//! `_excel` (with app's Excel reader), `_federate` (with `federate`, a federation's
//! participant) and `_he` (with `he`, encrypted prediction); a request a bundle was built
//! without is refused with a message. `public/seal-worker.js` only loads the bundle the page
//! named and hands over the messages that arrived while it loaded; everything else is here.
//!
//! Two things use the browser's own machinery because nothing in wasm matches them: the bulk
//! AES-GCM goes through WebCrypto (several times faster than the aes-gcm crate in wasm, with
//! the nonces and associated data `app::crypto` computes, so the bytes are the same), and the
//! upload goes through `fetch` with a `ReadableStream` body that seals each group of chunks as
//! the network takes it (Chromium streams request bodies over HTTP/2 only, so over HTTPS), or else
//! through `XMLHttpRequest`, the one browser API that reports the progress of a whole body.

use std::cell::{Cell as Flag, RefCell};
use std::rc::Rc;

use app::file_worker::{self, OpenRequest, OpenedTable, Phase, UploadRequest, WorkerReply, WorkerRequest, SEAL_AHEAD_LIMIT};
use app::model::dataset::{OwnerKey, TrainerKey};
use app::model::ApiError;
use app::table::scan::{CsvScanner, Scan};
use app::table::{Format, ParseOptions};
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    AbortController, Blob, BlobPropertyBag, DedicatedWorkerGlobalScope, File, MessageEvent, ProgressEvent, QueuingStrategy, ReadableStream,
    ReadableStreamDefaultController, XmlHttpRequest,
};

use crate::sealing::{self, SealSession};

#[cfg(feature = "worker-federate")]
mod federate;
mod file_reader;
#[cfg(feature = "worker-he")]
mod he;

/// Plaintext bytes per sealed chunk (the envelope's chunk size).
const CHUNK: u32 = 1 << 20;
/// CSV is read in pieces of this size, so memory stays flat however large the file is.
const PIECE: f64 = (8 << 20) as f64;
/// A piece goes to the scanner in parts of this size. V8 first runs wasm as baseline code and
/// swaps a hot function for optimised code only on its next call (a running loop is not
/// replaced), so one 8 MiB call ran all of the first piece at the slower tier: a fresh worker's
/// 100 MB preview took 0.15-0.3 s longer than the next one, and no longer with every function
/// optimised up front (`--js-flags=--no-liftoff`). In 1 MiB parts about 0.1 s of it is left.
const PART: usize = 1 << 20;
/// JSON and Excel are parsed whole; beyond this size we ask for CSV instead.
const WHOLE_LIMIT: f64 = (256 << 20) as f64;

/// Why a request ended without its answer.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Message(String),
    #[error("cancelled")]
    Cancelled,
    /// Another file was picked while this one was read: only that one's answer is wanted.
    #[error("another file is being read")]
    Replaced,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Message(message)
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::Message(message.to_owned())
    }
}

/// A browser API's exception, in words.
impl From<JsValue> for Failure {
    fn from(e: JsValue) -> Self {
        let message = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| format!("the browser refused: {e:?}"));
        Failure::Message(message)
    }
}

type Result<T> = std::result::Result<T, Failure>;

/// What a cancel reaches: the flag the loops check between pieces, and the upload in flight.
#[derive(Default)]
struct State {
    /// Reads the CSV preview's pieces on another thread; `None` where it could not start.
    reader: Option<file_reader::FileReader>,
    cancelled: Flag<bool>,
    upload: RefCell<Option<XmlHttpRequest>>,
    /// The streaming upload in flight.
    stream: RefCell<Option<AbortController>>,
    /// The file last previewed, being (or already) sealed in the background.
    ahead: RefCell<Option<SealedAhead>>,
    /// Whether an upload waits for the sealing ahead: it then reports its progress, and a
    /// cancel stops it.
    waiting: Flag<bool>,
}

impl State {
    fn cancel(&self) {
        self.cancelled.set(true);
        // Dropping it stops it.
        self.ahead.take();
        if let Some(xhr) = self.upload.borrow().as_ref() {
            let _ = xhr.abort();
        }
        if let Some(controller) = self.stream.borrow().as_ref() {
            controller.abort();
        }
    }

    fn check(&self) -> Result<()> {
        if self.cancelled.get() {
            Err(Failure::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// A file sealed in the background after its preview (`WorkerRequest::Parse`'s `seal_ahead`):
/// the person reads the preview and types a name while this runs, so the upload they then ask
/// for only declares the dataset and sends. Its key is fresh and wrapped to no one until the
/// upload, and a session seals one file once: a failed or stopped sealing ahead is never
/// resumed, the upload seals again with a new key.
struct SealedAhead {
    /// The file it seals, by name, size and last change (the page sends the file again with
    /// the upload, as a new handle on the same file).
    file: (String, f64, f64),
    session: Rc<RefCell<SealSession>>,
    /// Settles when the sealing ends, `outcome` then holding the sealed Blob or why not.
    done: js_sys::Promise,
    outcome: Rc<RefCell<Option<Result<Blob>>>>,
    stop: Rc<Flag<bool>>,
}

impl Drop for SealedAhead {
    /// Stops the sealing, if it still runs, between two groups of chunks.
    fn drop(&mut self) {
        self.stop.set(true);
    }
}

fn file_key(file: &File) -> (String, f64, f64) {
    (file.name(), file.size(), file.last_modified())
}

/// Starts sealing `file` in the background in place of any file sealed ahead before.
fn seal_ahead(state: &Rc<State>, file: &File) -> Result<()> {
    state.ahead.take();
    let session = Rc::new(RefCell::new(SealSession::unwrapped(CHUNK)?));
    let (outcome, stop) = (Rc::new(RefCell::new(None)), Rc::new(Flag::new(false)));
    let done = {
        let (state, session, outcome, stop, file) = (state.clone(), session.clone(), outcome.clone(), stop.clone(), file.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let check = || if stop.get() || (state.waiting.get() && state.cancelled.get()) { Err(Failure::Cancelled) } else { Ok(()) };
            let sealed = seal(&check, &|| state.waiting.get(), &session, &file).await;
            outcome.replace(Some(sealed));
            Ok(JsValue::UNDEFINED)
        })
    };
    state.ahead.replace(Some(SealedAhead { file: file_key(file), session, done, outcome, stop }));
    Ok(())
}

/// The session and sealed Blob of `file` if it was sealed ahead (waiting for the sealing to
/// end, with its progress shown); `None` when it was not, or its sealing failed (the upload
/// then seals again, with a new key). A cancel while waiting is `Cancelled`.
async fn take_sealed_ahead(state: &State, file: &File) -> Result<Option<(Rc<RefCell<SealSession>>, Blob)>> {
    state.check()?;
    let Some(ahead) = state.ahead.take().filter(|a| a.file == file_key(file)) else { return Ok(None) };
    state.waiting.set(true);
    let waited = JsFuture::from(ahead.done.clone()).await;
    state.waiting.set(false);
    state.check()?;
    let outcome = ahead.outcome.take();
    Ok(match (waited, outcome) {
        (Ok(_), Some(Ok(blob))) => {
            let n = chunk_count(file.size());
            progress(Phase::Seal, f64::from(n), f64::from(n));
            Some((ahead.session.clone(), blob))
        }
        _ => None,
    })
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(reply: &WorkerReply) {
    match file_worker::to_js(reply) {
        Ok(value) => {
            let _ = scope().post_message(&value);
        }
        Err(e) => {
            let failed = WorkerReply::Failed { message: format!("the answer could not be sent: {e}") };
            if let Ok(value) = file_worker::to_js(&failed) {
                let _ = scope().post_message(&value);
            }
        }
    }
}

fn progress(phase: Phase, done: f64, total: f64) {
    post(&WorkerReply::Progress { phase, done, total });
}

fn status(message: &str) {
    post(&WorkerReply::Status { message: message.to_owned() });
}

/// Takes over from `seal-worker.js`: answers every message from now on, starting with those
/// that arrived while the bundle loaded (`queued`, in order).
#[wasm_bindgen]
pub fn start(queued: js_sys::Array) {
    console_error_panic_hook::set_once();
    let state = Rc::new(State { reader: file_reader::FileReader::start(), ..State::default() });
    let on_message = {
        let state = state.clone();
        Closure::<dyn Fn(MessageEvent)>::new(move |e: MessageEvent| receive(&state, e.data()))
    };
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    for message in queued.iter() {
        receive(&state, message);
    }
}

fn receive(state: &Rc<State>, message: JsValue) {
    let Some((request, file)) = file_worker::from_message(&message) else {
        post(&WorkerReply::Failed { message: "the page sent a request this worker does not know; reload the page".into() });
        return;
    };
    if request == WorkerRequest::Cancel {
        state.cancel();
        return;
    }
    // Reset here, not in the task: a cancel that arrives before the task first runs (both
    // queued while the bundle loaded) must still stop it.
    state.cancelled.set(false);
    let state = state.clone();
    spawn_local(async move {
        let reply = match handle(&state, request, file).await {
            Ok(reply) => reply,
            Err(Failure::Cancelled) => WorkerReply::Cancelled,
            Err(Failure::Message(message)) => WorkerReply::Failed { message },
            // The page waits for the answer about the file picked since.
            Err(Failure::Replaced) => return,
        };
        post(&reply);
    });
}

async fn handle(state: &Rc<State>, request: WorkerRequest, file: Option<File>) -> Result<WorkerReply> {
    let file = move || file.ok_or(Failure::from("no file came with the request; pick the file again"));
    Ok(match request {
        WorkerRequest::Parse { sheet, seal_ahead: wanted } => {
            // Whatever was sealed ahead is of another file, or of this one read again.
            state.ahead.take();
            let file = file()?;
            // Boxed, here and for each piece, so the preview's states are not laid into this
            // function's: 0.3 kB less of the files' worker gzipped, which is at its budget.
            let scan = Box::pin(parse(state, &file, sheet)).await?;
            if wanted && file.size() <= SEAL_AHEAD_LIMIT {
                // The preview stands even if this cannot start (no randomness for a key): the
                // upload then seals after the click, and says why if it fails again.
                let _ = seal_ahead(state, &file);
            }
            WorkerReply::Parsed { scan }
        }
        WorkerRequest::Upload(upload) => WorkerReply::Uploaded { id: seal_and_upload(state, &file()?, *upload).await? },
        WorkerRequest::Open(request) => WorkerReply::Opened { table: open(&request).await? },
        WorkerRequest::Rows { limit } => WorkerReply::Rows { rows: prediction_rows(&file()?, limit).await? },
        #[cfg(feature = "worker-federate")]
        WorkerRequest::CheckTask { task } => federate::check_task(&file()?, &task.get()?).await?,
        #[cfg(feature = "worker-federate")]
        WorkerRequest::Federate { federation, task } => federate::federate(state, &file()?, federation, task.get()?).await?,
        #[cfg(feature = "worker-he")]
        WorkerRequest::HePredict { offer, rows } => {
            let rows = match rows {
                Some(rows) => rows,
                None => prediction_rows(&file()?, app::model::artifact::MAX_PREDICT_ROWS).await?,
            };
            he::predict(&offer.get()?, rows).await?
        }
        #[cfg(feature = "worker-he")]
        WorkerRequest::HeUseKey => he::use_key(&file()?).await?,
        #[cfg(feature = "worker-he")]
        WorkerRequest::HeExportKey => he::export_key()?,
        WorkerRequest::Cancel => WorkerReply::Cancelled,
        // A request for another page's bundle (`WorkerBundle::serves`): the page checks before
        // it sends, so only a stale page meets this.
        #[allow(unreachable_patterns)]
        _ => return Err("this page's file reader does not do that; reload the page".into()),
    })
}

/// The picked file's rows to predict (batch or encrypted prediction), at most `limit`.
async fn prediction_rows(file: &File, limit: usize) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    let bytes = read_whole(file, "; split it into smaller files").await?;
    Ok(app::table::file::rows_for_prediction(&bytes, &file.name(), limit)?)
}

/// A whole file, refused with the reason beyond `WHOLE_LIMIT` (the wasm memory would run out
/// first); `instead` says what to do then.
async fn read_whole(file: &File, instead: &str) -> Result<Vec<u8>> {
    if file.size() > WHOLE_LIMIT {
        let mib = (file.size() / 1_048_576.0).round();
        return Err(format!("the file is {mib} MiB and this browser reads files of up to 256 MiB whole{instead}").into());
    }
    read(file, 0.0, file.size()).await
}

/// Bytes `start..end` of a file (or any blob).
async fn read(blob: &Blob, start: f64, end: f64) -> Result<Vec<u8>> {
    Reading::start(blob, start, end)?.bytes().await
}

/// A read of part of a blob, under way from when it is made, so the browser process reads
/// the file while this worker seals the group before (WebCrypto seals on threads of its own).
/// Chromium copies what was read into the ArrayBuffer on this worker's thread, between its
/// tasks, so a read ahead does not overlap work this thread does itself: the CSV preview's
/// parse gets its pieces from the reader worker (`file_reader`) instead, and uses this only
/// where that could not start.
struct Reading {
    promise: js_sys::Promise,
    /// Where the read ends in the blob.
    end: f64,
}

impl Reading {
    fn start(blob: &Blob, start: f64, end: f64) -> Result<Reading> {
        Ok(Reading { promise: blob.slice_with_f64_and_f64(start, end)?.array_buffer(), end })
    }

    /// The piece of `file` that starts at `from` (`PIECE` bytes or the rest), `None` past the end.
    fn piece(file: &File, from: f64) -> Result<Option<Reading>> {
        let size = file.size();
        (from < size).then(|| Reading::start(file, from, size.min(from + PIECE))).transpose()
    }

    /// The plain bytes of chunks `range` of `file`, with the range.
    fn chunks(file: &File, range: std::ops::Range<u32>) -> Result<GroupRead> {
        let chunk = f64::from(CHUNK);
        let reading = Reading::start(file, f64::from(range.start) * chunk, file.size().min(f64::from(range.end) * chunk))?;
        Ok((range, reading))
    }

    async fn bytes(self) -> Result<Vec<u8>> {
        let buffer = JsFuture::from(self.promise).await?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
    }
}

/// A group of chunks (`chunk_groups`) and the read of its plain bytes.
type GroupRead = (std::ops::Range<u32>, Reading);

/// A picked file's pieces for the preview, in order: sent by the reader worker
/// (`file_reader`), or read here, one ahead, where it could not start or failed.
enum Pieces<'a> {
    /// `end`: where the last piece sent ended.
    Sent {
        pieces: file_reader::Pieces<'a>,
        file: &'a File,
        end: f64,
    },
    Read {
        file: &'a File,
        ahead: Option<Reading>,
    },
}

impl<'a> Pieces<'a> {
    fn of(state: &'a State, file: &'a File) -> Result<Pieces<'a>> {
        Ok(match state.reader.as_ref().filter(|r| r.works()) {
            Some(reader) => Pieces::Sent { pieces: reader.read(file, PIECE)?, file, end: 0.0 },
            None => Pieces::Read { file, ahead: Reading::piece(file, 0.0)? },
        })
    }

    /// The next piece and where it ends in the file; `None` after the last.
    async fn next(&mut self) -> Result<Option<(Vec<u8>, f64)>> {
        loop {
            match self {
                Pieces::Sent { pieces, file, end } => match pieces.next().await? {
                    file_reader::Next::Piece(bytes, to) => {
                        *end = to;
                        return Ok(Some((bytes, to)));
                    }
                    file_reader::Next::End => return Ok(None),
                    file_reader::Next::Stopped => *self = Pieces::Read { file, ahead: Reading::piece(file, *end)? },
                },
                Pieces::Read { file, ahead } => {
                    let Some(reading) = ahead.take() else { return Ok(None) };
                    let end = reading.end;
                    let piece = reading.bytes().await?;
                    *ahead = Reading::piece(file, end)?;
                    return Ok(Some((piece, end)));
                }
            }
        }
    }
}

/// Reads a picked file for the preview: CSV in pieces with progress, JSON and Excel whole.
async fn parse(state: &State, file: &File, sheet: Option<String>) -> Result<Scan> {
    let name = file.name();
    let size = file.size();
    if app::table::file::format_of(&name)? == Format::Csv {
        let mut scanner = CsvScanner::new(ParseOptions::default());
        loop {
            let mut pieces = Pieces::of(state, file)?;
            loop {
                state.check()?;
                let Some((piece, end)) = Box::pin(pieces.next()).await? else { break };
                for part in piece.chunks(PART) {
                    scanner.push(part).map_err(|e| e.to_string())?;
                }
                progress(Phase::Parse, end, size);
            }
            // A column of numbers that turned out to hold text is read again to count its categories.
            match scanner.second_pass().map_err(|e| e.to_string())? {
                Some(again) => scanner = again,
                None => return Ok(scanner.finish().map_err(|e| e.to_string())?),
            }
        }
    }
    if size > WHOLE_LIMIT {
        let mib = (size / 1_048_576.0).round();
        return Err(format!(
            "JSON and Excel files are read whole in the browser, and this one is {mib} MiB (the limit is 256 MiB); save it as CSV, which is read in pieces"
        )
        .into());
    }
    progress(Phase::Parse, 0.0, size);
    let scan = sealing::scan_whole(&read_whole(file, "").await?, &name, sheet)?;
    progress(Phase::Parse, size, size);
    Ok(scan)
}

/// Declares the dataset, seals the file (or takes it sealed ahead) and uploads the ciphertext.
/// On any failure after the declaration the dataset is deleted again (the server also sweeps
/// what a closed tab leaves).
async fn seal_and_upload(state: &State, file: &File, upload: UploadRequest) -> Result<String> {
    let trainer: TrainerKey = json(ok(fetch("GET", "/api/keys/trainer", None).await?).await?).await?;
    let owner = owner_key(upload.passphrase.as_deref()).await?;
    let keys = (trainer.public_key.as_str(), owner.public_key.as_str());
    if let Some((session, blob)) = take_sealed_ahead(state, file).await? {
        let id = declare(&session, keys, upload, file.size()).await?;
        let url = format!("/api/datasets/{id}/blob");
        return undeclare_on_failure(id, put(state, &url, &blob).await);
    }
    let session = RefCell::new(SealSession::unwrapped(CHUNK)?);
    let id = declare(&session, keys, upload, file.size()).await?;
    let url = format!("/api/datasets/{id}/blob");
    let result = async {
        let mut session = session.into_inner();
        if can_stream_requests() {
            match stream_put(state, session, file, &url).await? {
                Streamed::Sent => return Ok(()),
                // Over HTTP/1.1 (a proxy in between) Chromium refuses before taking a byte.
                Streamed::Refused(back) => {
                    status("This connection cannot stream; sealing the whole file first, then uploading it…");
                    session = *back;
                }
            }
        }
        let blob = seal(&|| state.check(), &|| true, &RefCell::new(session), file).await?;
        put(state, &url, &blob).await
    }
    .await;
    undeclare_on_failure(id, result)
}

/// Wraps the session's key to `keys` (the trainer's and the owner's public keys) and declares
/// the dataset: its id.
async fn declare(session: &RefCell<SealSession>, keys: (&str, &str), upload: UploadRequest, size: f64) -> Result<String> {
    let (id, declaration) = {
        let mut session = session.borrow_mut();
        session.wrap_for(keys.0, Some(keys.1))?;
        (session.id(), serde_json::to_string(&session.declaration(upload, size as u64)).map_err(|e| e.to_string())?)
    };
    ok(fetch("POST", "/api/datasets", Some(&declaration)).await?).await?;
    Ok(id)
}

/// The dataset's id, or the upload's failure after the dataset `id` was deleted again.
fn undeclare_on_failure(id: String, result: Result<()>) -> Result<String> {
    if result.is_err() {
        // Best effort: the server removes a failed upload itself; this also covers a cancel
        // before the upload began.
        let url = format!("/api/datasets/{id}");
        spawn_local(async move {
            let _ = fetch("DELETE", &url, None).await;
        });
    }
    result.map(|()| id)
}

/// The owner's key from the server, or a new one sealed under `passphrase` (first upload).
async fn owner_key(passphrase: Option<&str>) -> Result<OwnerKey> {
    let res = fetch("GET", "/api/keys/me", None).await?;
    if res.status() == 200 {
        return json(res).await;
    }
    if res.status() != 204 {
        return Err(problem(res).await);
    }
    let passphrase = passphrase.ok_or("choose a passphrase for your dataset key first")?;
    status("Creating your dataset key…");
    let key = sealing::new_owner_key(passphrase)?;
    let body = serde_json::to_string(&key).map_err(|e| e.to_string())?;
    ok(fetch("PUT", "/api/keys/me", Some(&body)).await?).await?;
    Ok(key)
}

/// Chunks read from the file and sealed at a time: one read of the file and one Blob (or
/// stream piece) per 8 MiB rather than per 1 MiB chunk. Each read and each Blob is a round trip
/// to the browser process; per chunk they held sealing a 100 MB file to about 48 MB/s.
const CHUNKS_PER_READ: u32 = 8;

/// How many chunks a file of `size` bytes is sealed in (an empty file is one empty chunk).
fn chunk_count(size: f64) -> u32 {
    (size / f64::from(CHUNK)).ceil().max(1.0) as u32
}

/// The file's `n` chunks in groups of [`CHUNKS_PER_READ`].
fn chunk_groups(n: u32) -> impl Iterator<Item = std::ops::Range<u32>> {
    (0..n).step_by(CHUNKS_PER_READ as usize).map(move |first| first..n.min(first + CHUNKS_PER_READ))
}

/// Chunks `range` of the file's `n`, their bytes `plain`, sealed (WebCrypto where there is
/// one, else the aes-gcm crate, which must see every chunk in order): the ciphertexts in
/// order, as the `Uint8Array`s a Blob or a stream takes (views of WebCrypto's answers, which
/// are not copied into this worker's memory). WebCrypto is handed every chunk of the group at
/// once, so its thread seals one while the answer for the one before comes back.
async fn seal_chunks(
    plain: &[u8],
    range: std::ops::Range<u32>,
    n: u32,
    header: &[u8],
    webcrypto: Option<&WebCrypto>,
    session: &RefCell<SealSession>,
) -> Result<Vec<js_sys::Uint8Array>> {
    let chunks = range.zip(plain.chunks(CHUNK as usize)).map(|(i, part)| (i, i + 1 == n, part));
    match webcrypto {
        Some(w) => {
            let sealing =
                chunks.map(|(i, last, part)| w.seal(part, &session.borrow().nonce(i, last), header)).collect::<Result<Vec<_>>>()?;
            let mut sealed = Vec::with_capacity(sealing.len());
            for promise in sealing {
                sealed.push(js_sys::Uint8Array::new(&JsFuture::from(promise).await?));
            }
            Ok(sealed)
        }
        None => chunks.map(|(_, last, part)| Ok(js_sys::Uint8Array::from(&session.borrow_mut().seal_chunk(part, last)?[..]))).collect(),
    }
}

/// The sealed file as a Blob whose parts are the header and each group of sealed chunks; Blob
/// parts may live on disk, so a large file does not need its size in memory. `check` is asked
/// between groups whether to go on, `report` whether to show progress.
async fn seal(check: &dyn Fn() -> Result<()>, report: &dyn Fn() -> bool, session: &RefCell<SealSession>, file: &File) -> Result<Blob> {
    let n = chunk_count(file.size());
    let header = session.borrow().header_bytes();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&header[..]));
    let raw_key = session.borrow().raw_key();
    let webcrypto = WebCrypto::new(&raw_key).await;
    let mut groups = chunk_groups(n);
    let mut ahead = groups.next().map(|range| Reading::chunks(file, range)).transpose()?;
    while let Some((range, reading)) = ahead.take() {
        check()?;
        let plain = reading.bytes().await?;
        ahead = groups.next().map(|next| Reading::chunks(file, next)).transpose()?;
        let end = range.end;
        let sealed = seal_chunks(&plain, range, n, &header, webcrypto.as_ref(), session).await?;
        // A Blob a group: its bytes go to the browser process now, not at the end.
        let group = Blob::new_with_buffer_source_sequence(&sealed.into_iter().collect::<js_sys::Array>())?;
        parts.push(&group);
        if report() {
            progress(Phase::Seal, f64::from(end), f64::from(n));
        }
    }
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    Ok(Blob::new_with_blob_sequence_and_options(&parts, &options)?)
}

/// Whether this browser sends a `ReadableStream` request body as a stream, and the page came
/// over HTTPS (where Chromium's HTTP/2 can carry one). The check is the one the Fetch
/// standard's authors suggest: a browser that knows `duplex` reads it and does not turn the
/// stream into the text "[object ReadableStream]" (which would then be uploaded).
fn can_stream_requests() -> bool {
    if scope().location().protocol() != "https:" {
        return false;
    }
    let check = || -> std::result::Result<bool, JsValue> {
        let asked = Rc::new(Flag::new(false));
        let seen = asked.clone();
        let getter = Closure::<dyn Fn() -> JsValue>::new(move || {
            seen.set(true);
            JsValue::from_str("half")
        });
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&ReadableStream::new()?.into());
        let descriptor = js_sys::Object::new();
        js_sys::Reflect::set(&descriptor, &"get".into(), getter.as_ref())?;
        js_sys::Object::define_property(&init, &"duplex".into(), &descriptor);
        let request = web_sys::Request::new_with_str_and_init("", &init)?;
        Ok(asked.get() && !request.headers().has("content-type")?)
    };
    check().unwrap_or(false)
}

/// How a streaming upload ended, when it did not fail.
enum Streamed {
    Sent,
    /// The browser refused to stream before it took any byte: upload the whole body with
    /// this session instead.
    Refused(Box<SealSession>),
}

/// Seals and sends the envelope as one streaming PUT: each group of chunks is read and sealed
/// only when the network asks for more (a high-water mark of 0), so the tab holds about one
/// group (8 MiB) whatever the file's size. Progress counts the bytes handed to the network.
async fn stream_put(state: &State, session: SealSession, file: &File, url: &str) -> Result<Streamed> {
    let size = file.size();
    let n = chunk_count(size);
    let header = session.header_bytes();
    let total = header.len() as f64 + size + 16.0 * f64::from(n);
    let webcrypto = Rc::new(WebCrypto::new(&session.raw_key()).await);
    let session = Rc::new(RefCell::new(session));
    let kept = session.clone();
    // The next piece to send: 0 is the header, g + 1 is group g of chunks.
    let groups = n.div_ceil(CHUNKS_PER_READ);
    let next = Rc::new(Flag::new(0u32));
    let sent = Rc::new(Flag::new(0f64));
    // The group the next pull seals, its read started by this one; none before the first
    // group, whose pull sends the header.
    let ahead: Rc<RefCell<Option<GroupRead>>> = Rc::default();
    let (file, taken, handed) = (file.clone(), next.clone(), sent.clone());
    let pull = Closure::<dyn FnMut(ReadableStreamDefaultController) -> js_sys::Promise>::new(
        move |controller: ReadableStreamDefaultController| {
            let (file, session, webcrypto, header) = (file.clone(), session.clone(), webcrypto.clone(), header.clone());
            let (next, sent, ahead) = (taken.clone(), handed.clone(), ahead.clone());
            wasm_bindgen_futures::future_to_promise(async move {
                let as_js = |e: Failure| JsValue::from_str(&e.to_string());
                let piece = next.get();
                next.set(piece + 1);
                // Piece `piece` + 1 is group `piece`: its read starts now.
                let after = chunk_groups(n).nth(piece as usize).map(|r| Reading::chunks(&file, r)).transpose().map_err(as_js)?;
                let parts = match ahead.replace(after) {
                    None => vec![js_sys::Uint8Array::from(&header[..])],
                    Some((range, reading)) => {
                        let end = range.end;
                        let sealed =
                            async { seal_chunks(&reading.bytes().await?, range, n, &header, webcrypto.as_ref().as_ref(), &session).await }
                                .await;
                        progress(Phase::Seal, f64::from(end), f64::from(n));
                        sealed.map_err(as_js)?
                    }
                };
                for part in parts {
                    sent.set(sent.get() + f64::from(part.byte_length()));
                    controller.enqueue_with_chunk(&part)?;
                }
                progress(Phase::Upload, sent.get(), total);
                if piece == groups {
                    controller.close()?;
                }
                Ok(JsValue::UNDEFINED)
            })
        },
    );
    let source = js_sys::Object::new();
    js_sys::Reflect::set(&source, &"pull".into(), pull.as_ref())?;
    let strategy = QueuingStrategy::new();
    strategy.set_high_water_mark(0.0);
    let body = ReadableStream::new_with_underlying_source_and_strategy(&source, &strategy)?;

    let controller = AbortController::new()?;
    let init = web_sys::RequestInit::new();
    init.set_method("PUT");
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    init.set_signal(Some(&controller.signal()));
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/octet-stream")?;
    init.set_headers(&headers);
    init.set_body(&body.into());
    js_sys::Reflect::set(&init, &"duplex".into(), &"half".into())?;
    state.stream.replace(Some(controller));
    status("Sealing and uploading chunk by chunk…");
    let answer = JsFuture::from(scope().fetch_with_str_and_init(url, &init)).await;
    state.stream.replace(None);
    // The stream is finished with once the request has settled: its pulls may go now.
    drop(pull);
    state.check()?;
    let response: web_sys::Response = match answer {
        Ok(r) => r.unchecked_into(),
        // Refused before the first chunk: at most the header was taken, which no server saw.
        Err(_) if next.get() <= 1 => {
            let session = Rc::try_unwrap(kept).map_err(|_| Failure::from("the upload could not start again"))?;
            return Ok(Streamed::Refused(Box::new(session.into_inner())));
        }
        Err(_) => return Err("the connection failed during the upload; check your network and try again".into()),
    };
    ok(response).await?;
    Ok(Streamed::Sent)
}

/// AES-256-GCM through WebCrypto, with the key imported non-extractable.
struct WebCrypto {
    subtle: web_sys::SubtleCrypto,
    key: web_sys::CryptoKey,
}

impl WebCrypto {
    /// `None` where WebCrypto is missing (an insecure context): the aes-gcm crate seals then.
    async fn new(raw_key: &[u8]) -> Option<WebCrypto> {
        let crypto = scope().crypto().ok()?;
        if js_sys::Reflect::get(&crypto, &"subtle".into()).ok()?.is_undefined() {
            return None;
        }
        let subtle = crypto.subtle();
        let usages = js_sys::Array::of1(&"encrypt".into());
        let raw = js_sys::Uint8Array::from(raw_key);
        let key = JsFuture::from(subtle.import_key_with_str("raw", &raw, "AES-GCM", false, &usages).ok()?).await.ok()?;
        Some(WebCrypto { subtle, key: key.unchecked_into() })
    }

    /// Starts sealing `plain`: the promise of its ciphertext (an `ArrayBuffer`). WebCrypto
    /// copies `plain` before it returns, so the caller's buffer may change at once.
    fn seal(&self, plain: &[u8], nonce: &[u8], aad: &[u8]) -> Result<js_sys::Promise> {
        let params = web_sys::AesGcmParams::new_with_u8_array("AES-GCM", &js_sys::Uint8Array::from(nonce));
        params.set_additional_data_u8_array(&js_sys::Uint8Array::from(aad));
        Ok(self.subtle.encrypt_with_object_and_u8_array(&params, &self.key, plain)?)
    }
}

/// PUTs the sealed blob with upload progress; a cancel aborts it.
async fn put(state: &State, url: &str, blob: &Blob) -> Result<()> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open("PUT", url)?;
    let size = blob.size();
    let on_progress = Closure::<dyn Fn(ProgressEvent)>::new(move |e: ProgressEvent| {
        progress(Phase::Upload, e.loaded(), if e.length_computable() { e.total() } else { size });
    });
    xhr.upload()?.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    // `loadend` follows every ending: a response, a network error and an abort.
    let ended = js_sys::Promise::new(&mut |resolve, _| xhr.set_onloadend(Some(&resolve)));
    state.upload.replace(Some(xhr.clone()));
    let sent = xhr.send_with_opt_blob(Some(blob));
    if sent.is_ok() {
        JsFuture::from(ended).await?;
    }
    state.upload.replace(None);
    drop(on_progress);
    sent?;
    state.check()?;
    match xhr.status()? {
        200 => Ok(()),
        0 => Err("the connection failed during the upload; check your network and try again".into()),
        code => Err(Failure::Message(describe(code, &xhr.response_text()?.unwrap_or_default()))),
    }
}

/// Downloads the ciphertext and opens it with the owner's key.
async fn open(request: &OpenRequest) -> Result<OpenedTable> {
    status("Downloading the ciphertext…");
    let res = ok(fetch("GET", &format!("/api/datasets/{}/blob", request.id), None).await?).await?;
    let envelope = js_sys::Uint8Array::new(&JsFuture::from(res.array_buffer()?).await?).to_vec();
    let key = fetch("GET", "/api/keys/me", None).await?;
    if key.status() != 200 {
        return Err("you have no dataset key on this server".into());
    }
    let key: OwnerKey = json(key).await?;
    status("Unlocking your key and opening the envelope…");
    Ok(sealing::open_owned(&envelope, request, &key)?)
}

/// A same-origin request (the session cookie goes with it), JSON body if any.
async fn fetch(method: &str, url: &str, body: Option<&str>) -> Result<web_sys::Response> {
    let body = body.map(JsValue::from_str);
    fetch_with(method, url, body.as_ref().map(|b| ("application/json", b))).await
}

/// A same-origin request with a body of the given content type (bytes for docs/he.md's).
async fn fetch_with(method: &str, url: &str, body: Option<(&str, &JsValue)>) -> Result<web_sys::Response> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some((content_type, body)) = body {
        let headers = web_sys::Headers::new()?;
        headers.set("content-type", content_type)?;
        init.set_headers(&headers);
        init.set_body(body);
    }
    let response = JsFuture::from(scope().fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| Failure::from("the server could not be reached; check your connection and try again"))?;
    Ok(response.unchecked_into())
}

/// The response if it is a success, else the server's refusal in words.
async fn ok(res: web_sys::Response) -> Result<web_sys::Response> {
    if res.ok() {
        Ok(res)
    } else {
        Err(problem(res).await)
    }
}

async fn json<T: DeserializeOwned>(res: web_sys::Response) -> Result<T> {
    let text = JsFuture::from(res.text()?).await?.as_string().unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| Failure::Message(format!("the server's answer could not be read: {e}")))
}

async fn problem(res: web_sys::Response) -> Failure {
    let code = res.status();
    let text = match res.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    Failure::Message(describe(code, &text))
}

/// An error body (`ApiError`, see docs/api.md) in words, or the bare status if it is not one.
fn describe(code: u16, body: &str) -> String {
    match serde_json::from_str::<ApiError>(body) {
        Ok(e) => e.detail(),
        Err(_) => format!("the server answered {code}"),
    }
}
