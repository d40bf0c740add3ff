//! The messages between a page and the browser's file worker (`frontend`'s `worker` bundle),
//! which parses, seals, uploads and opens files off the page's thread. Both ends are Rust, so
//! the protocol is these two enums; they cross `postMessage` as structured-cloned values
//! (`serde-wasm-bindgen`), and a picked `File` travels beside the request, not inside it,
//! because a `File` is a handle the browser clones, not data serde can describe.
//!
//! The worker handles one request at a time per page, in order, and answers each with any
//! number of `Progress`/`Status` replies, then exactly one final reply (`Parsed`, `Uploaded`,
//! `Opened`, `Rows`, `TaskChecked`, `FederationEnded`, `HePredicted`, `HeKeyInUse`,
//! `HeKeyExported`, `Cancelled` or `Failed`). Taking part in
//! a federation is one long request: its `Round`, `Sent` and `SatOut` replies report each step.

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::crypto::WrappedKey;
use crate::fl::train::FlTask;
use crate::ml::metrics::Metrics;
use crate::model::federation::{Phase as FlPhase, RoundView, Stage};
use crate::table::scan::Scan;
use crate::table::{Cell, Column, Format, ParseOptions};

/// A page's request. `Parse`, `Upload` and `Rows` need the picked file beside them.
/// Externally tagged (`{"parse": {"sheet": null}}`, `"cancel"`), unlike the replies: an
/// internally tagged enum is read through serde's buffered `Content`, which put about 20 kB
/// (gzipped) of deserializer code into every worker bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerRequest {
    /// Read the file for the upload page's preview (CSV in pieces, JSON and Excel whole). With
    /// `seal_ahead`, the worker then seals the file (up to `SEAL_AHEAD_LIMIT` bytes) in the
    /// background while the person looks at the preview, with a fresh key wrapped to no one
    /// yet and nothing sent, so that an `Upload` of the same file only declares and sends.
    Parse { sheet: Option<String>, seal_ahead: bool },
    /// Seal the file already parsed and upload the ciphertext.
    Upload(Box<UploadRequest>),
    /// Download one of the owner's datasets, open it with their key, and parse it.
    Open(OpenRequest),
    /// Read the file as rows to predict (batch prediction), at most `limit`.
    Rows { limit: usize },
    /// Read the file and check it against a federation's task (the participant's first step).
    CheckTask { task: Deferred<FlTask> },
    /// Take part in a federation's rounds with the file until it ends or `Cancel` (leaving is
    /// a dropout, not an error for the others). Only keys, sealed shares and masked vectors
    /// are sent.
    Federate { federation: String, task: Deferred<FlTask> },
    /// Predict rows with a model without the server seeing them (docs/he.md): the rows given,
    /// or (without them) the picked file's. The worker keeps its key for the page's life.
    HePredict { offer: Deferred<crate::he::HeOffer>, rows: Option<Vec<serde_json::Map<String, serde_json::Value>>> },
    /// Use the picked key file (docs/he.md's 256 bytes, as `cipherfold he predict` keeps it)
    /// instead of a key made here, for the page's life: one key for the CLI and the browser.
    HeUseKey,
    /// The worker's key (made now if there is none yet), for the person to save as a file.
    HeExportKey,
    /// Stop the request in progress (reading or uploading); nothing stays on the server.
    Cancel,
}

/// A request's payload that only some worker bundles read (a federation's task, a model's
/// encryption offer). In the worker (wasm) it is kept as the posted JS value and decoded by
/// [`Deferred::get`] in the bundle that serves the request, so the other bundles do not carry
/// its deserializer (the files worker's were about 90 kB before wasm-opt). Natively, and on
/// the page that builds the request, it holds the value itself; the wire form is the value's.
#[derive(Clone, Debug)]
pub struct Deferred<T>(DeferredInner<T>);

#[derive(Clone, Debug)]
enum DeferredInner<T> {
    Value(T),
    /// Only the worker (wasm) receives one.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    Posted(JsValue),
}

impl<T> Deferred<T> {
    pub fn new(value: T) -> Self {
        Deferred(DeferredInner::Value(value))
    }
}

impl<T: serde::de::DeserializeOwned> Deferred<T> {
    /// The payload, decoded now if it was posted.
    pub fn get(self) -> Result<T, String> {
        match self.0 {
            DeferredInner::Value(value) => Ok(value),
            DeferredInner::Posted(js) => {
                serde_wasm_bindgen::from_value(js).map_err(|e| format!("the page's request could not be read: {e}"))
            }
        }
    }
}

/// Equal when both hold values that are equal; a posted value is compared by identity (only
/// the worker holds one, and it never compares them).
impl<T: PartialEq> PartialEq for Deferred<T> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (DeferredInner::Value(a), DeferredInner::Value(b)) => a == b,
            (DeferredInner::Posted(a), DeferredInner::Posted(b)) => a == b,
            _ => false,
        }
    }
}

impl<T: Serialize> Serialize for Deferred<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            DeferredInner::Value(value) => value.serialize(serializer),
            DeferredInner::Posted(js) => serde_wasm_bindgen::preserve::serialize(js, serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Deferred<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[cfg(target_arch = "wasm32")]
        let inner = DeferredInner::Posted(serde_wasm_bindgen::preserve::deserialize(deserializer)?);
        #[cfg(not(target_arch = "wasm32"))]
        let inner = DeferredInner::Value(T::deserialize(deserializer)?);
        Ok(Deferred(inner))
    }
}

/// Which build of the file worker a page starts: `scripts/build-site.sh` makes one bundle each
/// (`WORKER_BUNDLES` in `scripts/lib.sh`), so a page downloads the code for its own requests
/// only (the upload page neither the federated trainer nor tfhe, nor the Excel reader until an
/// .xlsx file is picked). `public/seal-worker.js?bundle=<module>` loads `pkg/<module>.js`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerBundle {
    /// Reading, sealing, uploading and opening CSV and JSON files, and rows to predict
    /// (`pkg/cipherfold_worker.js`).
    Files,
    /// `Files` for Excel files as well (`pkg/cipherfold_worker_excel.js`): a `Files` page's
    /// worker for a request that reads one (`WorkerRequest::reads_excel`).
    Excel,
    /// `Files` and a federation's participant (`pkg/cipherfold_worker_federate.js`).
    Federate,
    /// `Files` and encrypted prediction (`pkg/cipherfold_worker_he.js`).
    He,
}

impl WorkerBundle {
    /// The bundle's module in `pkg/` (the loader's `bundle` parameter), also its name in messages.
    pub fn module(self) -> &'static str {
        match self {
            WorkerBundle::Files => "cipherfold_worker",
            WorkerBundle::Excel => "cipherfold_worker_excel",
            WorkerBundle::Federate => "cipherfold_worker_federate",
            WorkerBundle::He => "cipherfold_worker_he",
        }
    }

    /// The bundle that runs `request` for a page of this bundle: the Excel one for a `Files`
    /// page's request that reads an Excel file (picked as `file_name`, or opened), else this.
    pub fn for_request(self, request: &WorkerRequest, file_name: Option<&str>) -> WorkerBundle {
        if self == WorkerBundle::Files && request.reads_excel(file_name) {
            WorkerBundle::Excel
        } else {
            self
        }
    }

    /// Whether this bundle answers `request` (every one answers the files' requests; only
    /// `Files` leaves Excel files to another).
    pub fn serves(self, request: &WorkerRequest) -> bool {
        match request {
            WorkerRequest::Parse { .. }
            | WorkerRequest::Upload(_)
            | WorkerRequest::Open(_)
            | WorkerRequest::Rows { .. }
            | WorkerRequest::Cancel => true,
            WorkerRequest::CheckTask { .. } | WorkerRequest::Federate { .. } => self == WorkerBundle::Federate,
            WorkerRequest::HePredict { .. } | WorkerRequest::HeUseKey | WorkerRequest::HeExportKey => self == WorkerBundle::He,
        }
    }
}

impl WorkerRequest {
    /// Whether the request reads an Excel file: the picked file (`file_name`) for `Parse` and
    /// `Rows`, the scanned one for `Upload`, the stored dataset's format for `Open`.
    pub fn reads_excel(&self, file_name: Option<&str>) -> bool {
        let picked = || file_name.and_then(Format::from_file_name) == Some(Format::Xlsx);
        match self {
            WorkerRequest::Parse { .. } | WorkerRequest::Rows { .. } => picked(),
            WorkerRequest::Upload(upload) => upload.scan.format == Format::Xlsx,
            WorkerRequest::Open(open) => open.format == Format::Xlsx,
            _ => false,
        }
    }
}

/// The largest file a `Parse` with `seal_ahead` seals in the background. The sealed copy is
/// a Blob the browser keeps until the upload (in memory, or on disk when large), as large as
/// the file: beyond this the upload seals as it sends instead (streamed over HTTP/2), so a
/// large file's ciphertext is never held whole before the person asked for an upload.
pub const SEAL_AHEAD_LIMIT: f64 = (128 << 20) as f64;

/// What the upload page chose, with the scan the worker returned for the same file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadRequest {
    pub scan: Scan,
    pub name: String,
    pub domain: String,
    pub subdomain: String,
    pub shared: bool,
    pub target: Option<String>,
    /// The passphrase for a new owner key: only on the owner's first upload.
    pub passphrase: Option<String>,
}

/// A dataset to open in the browser, as its page knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenRequest {
    pub id: String,
    pub passphrase: String,
    pub format: Format,
    pub parse_options: ParseOptions,
    /// The data key wrapped to the owner.
    pub wrapped: WrappedKey,
}

/// Which of the long steps a progress reply measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Parse,
    Seal,
    Upload,
}

/// The worker's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerReply {
    /// `done` of `total` units (bytes or chunks) of `phase`.
    Progress {
        phase: Phase,
        done: f64,
        total: f64,
    },
    /// A step people should see named ("Downloading the ciphertext…").
    Status {
        message: String,
    },
    Parsed {
        scan: Scan,
    },
    Uploaded {
        id: String,
    },
    Opened {
        table: OpenedTable,
    },
    Rows {
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    },
    /// The file fits the task: this many rows have a target.
    TaskChecked {
        rows: usize,
    },
    /// The federation's state changed (the roster and envelopes left out).
    Round {
        view: Box<RoundView>,
    },
    /// This participant sent its message for a stage; for an input, how many values were
    /// clipped and how its own model does on its own rows.
    Sent {
        round: u32,
        phase: FlPhase,
        stage: Stage,
        clipped: usize,
        local: Option<Metrics>,
    },
    /// This participant cannot take part in a round (and waits for the next).
    SatOut {
        round: u32,
        reason: String,
    },
    /// The federation ended: its model, or why it failed.
    FederationEnded {
        model_id: Option<String>,
        failure: Option<String>,
    },
    /// Encrypted predictions, decrypted in the worker, with what they cost.
    HePredicted(Box<crate::he::HeResult>),
    /// The key in the file `name` is the worker's key now.
    HeKeyInUse {
        name: String,
    },
    /// The worker's key, docs/he.md's 256 bytes.
    HeKeyExported {
        bytes: Vec<u8>,
    },
    Cancelled,
    /// The request failed; `message` says why in words for the page (no trailing period).
    Failed {
        message: String,
    },
}

impl WorkerReply {
    /// Whether this reply ends its request.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            WorkerReply::Progress { .. }
                | WorkerReply::Status { .. }
                | WorkerReply::Round { .. }
                | WorkerReply::Sent { .. }
                | WorkerReply::SatOut { .. }
        )
    }
}

/// A dataset opened in the browser: its columns, how many rows it has, and the first rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenedTable {
    pub columns: Vec<Column>,
    pub row_count: usize,
    pub rows: Vec<Vec<Cell>>,
}

/// Rows the owner's "open" view shows at most.
pub const OPEN_ROWS: usize = 1000;

/// Wraps a request (and the file it reads) for `postMessage`: `{request, file}`.
pub fn to_message(request: &WorkerRequest, file: Option<&web_sys::File>) -> Result<JsValue, String> {
    let message = js_sys::Object::new();
    js_sys::Reflect::set(&message, &"request".into(), &to_js(request)?).map_err(|_| "the request could not be posted".to_owned())?;
    if let Some(file) = file {
        js_sys::Reflect::set(&message, &"file".into(), file).map_err(|_| "the file could not be posted".to_owned())?;
    }
    Ok(message.into())
}

/// The request and file of a message [`to_message`] made; `None` if it is not one.
pub fn from_message(message: &JsValue) -> Option<(WorkerRequest, Option<web_sys::File>)> {
    let request = js_sys::Reflect::get(message, &"request".into()).ok()?;
    let request = serde_wasm_bindgen::from_value(request).ok()?;
    let file = js_sys::Reflect::get(message, &"file".into()).ok().and_then(|f| f.dyn_into::<web_sys::File>().ok());
    Some((request, file))
}

/// A reply as the value `postMessage` clones. JSON-compatible (objects, not `Map`s; `null`,
/// not `undefined`), so an untagged `Cell::Missing` comes back as itself.
pub fn to_js<T: Serialize>(message: &T) -> Result<JsValue, String> {
    message.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| e.to_string())
}

/// A reply read back from a `MessageEvent`'s data.
pub fn reply_from_js(value: JsValue) -> Result<WorkerReply, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("the file worker's answer could not be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_with_their_tags() {
        let req = WorkerRequest::Parse { sheet: Some("Sheet2".into()), seal_ahead: true };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json, serde_json::json!({ "parse": { "sheet": "Sheet2", "seal_ahead": true } }));
        assert_eq!(serde_json::from_value::<WorkerRequest>(json).unwrap(), req);
        assert_eq!(serde_json::to_value(WorkerRequest::Cancel).unwrap(), "cancel");
        let reply = WorkerReply::Progress { phase: Phase::Seal, done: 3.0, total: 4.0 };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!((json["type"].as_str(), json["phase"].as_str()), (Some("progress"), Some("seal")));
        assert!(!reply.is_final());
        assert!(WorkerReply::Cancelled.is_final());
    }

    #[test]
    fn only_the_federations_and_he_bundles_take_their_requests() {
        let task =
            || FlTask { features: vec![], target: "y".into(), labels: None, model: crate::fl::train::FlModel::Linear, privacy: None };
        let federate = WorkerRequest::Federate { federation: "f".into(), task: Deferred::new(task()) };
        let check = WorkerRequest::CheckTask { task: Deferred::new(task()) };
        for bundle in [WorkerBundle::Files, WorkerBundle::Excel, WorkerBundle::Federate, WorkerBundle::He] {
            assert!(
                bundle.serves(&WorkerRequest::Parse { sheet: None, seal_ahead: false }) && bundle.serves(&WorkerRequest::Rows { limit: 1 })
            );
            assert!(bundle.serves(&WorkerRequest::Cancel));
            assert_eq!(bundle.serves(&federate), bundle == WorkerBundle::Federate);
            assert_eq!(bundle.serves(&check), bundle == WorkerBundle::Federate);
            assert_eq!(bundle.serves(&WorkerRequest::HeUseKey), bundle == WorkerBundle::He);
            assert_eq!(bundle.serves(&WorkerRequest::HeExportKey), bundle == WorkerBundle::He);
        }
    }

    #[test]
    fn a_deferred_payload_travels_as_the_value_itself() {
        let task = FlTask {
            features: vec![crate::fl::train::Feature { name: "x".into(), kind: crate::table::ColumnKind::Numeric, categories: vec![] }],
            target: "y".into(),
            labels: None,
            model: crate::fl::train::FlModel::Linear,
            privacy: None,
        };
        let request = WorkerRequest::CheckTask { task: Deferred::new(task.clone()) };
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(json, serde_json::json!({ "check_task": { "task": serde_json::to_value(&task).unwrap() } }));
        let WorkerRequest::CheckTask { task: back } = serde_json::from_value(json).unwrap() else { panic!("not a check_task") };
        assert_eq!(back.get().unwrap(), task);
    }

    #[test]
    fn a_files_pages_excel_requests_go_to_the_excel_bundle() {
        let parse = WorkerRequest::Parse { sheet: None, seal_ahead: false };
        assert_eq!(WorkerBundle::Files.for_request(&parse, Some("Iris.XLSX")), WorkerBundle::Excel);
        assert_eq!(WorkerBundle::Files.for_request(&parse, Some("iris.csv")), WorkerBundle::Files);
        assert_eq!(WorkerBundle::Files.for_request(&WorkerRequest::Rows { limit: 5 }, Some("rows.xlsx")), WorkerBundle::Excel);
        assert_eq!(WorkerBundle::Files.for_request(&WorkerRequest::Cancel, Some("rows.xlsx")), WorkerBundle::Files);
        // The other bundles read Excel themselves.
        assert_eq!(WorkerBundle::He.for_request(&WorkerRequest::Rows { limit: 5 }, Some("rows.xlsx")), WorkerBundle::He);
        assert_eq!(WorkerBundle::Federate.for_request(&parse, Some("mine.xlsx")), WorkerBundle::Federate);
    }
}
