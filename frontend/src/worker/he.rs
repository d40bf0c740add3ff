//! Encrypted prediction from the browser (docs/he.md): the models page's bundle
//! (`pkg/cipherfold_worker_he.js`, `--features worker-he`), the only one with tfhe, so the
//! other pages' workers do not download it.

use std::cell::RefCell;

use app::file_worker::WorkerReply;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::File;

use super::{fetch_with, ok, read_whole, scope, status, Result};

thread_local! {
    /// Encrypted prediction's secret key: made on first use (or read from a key file the person
    /// picked) and kept in this worker's memory only, so for as long as the page is open; it is
    /// never stored or sent, and leaves the worker only when the person asks to save it.
    static HE_KEY: RefCell<Option<app::he::lwe::ClientKey>> = const { RefCell::new(None) };
}

/// Milliseconds from the worker's clock, finer than `Date.now()`'s whole milliseconds (a
/// prediction's encryption takes less than one).
fn now_ms() -> f64 {
    scope().performance().map_or_else(js_sys::Date::now, |p| p.now())
}

/// The worker's key: the one in use, or a new one made now.
fn he_key() -> Result<app::he::lwe::ClientKey> {
    if let Some(key) = HE_KEY.with(|k| k.borrow().clone()) {
        return Ok(key);
    }
    status("Making your key in this browser…");
    let key = app::he::lwe::ClientKey::generate().map_err(|e| e.to_string())?;
    HE_KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    Ok(key)
}

/// Encrypts `rows` for `offer`'s model, has the server score them, and decrypts the answers
/// here (docs/he.md): only seeded ciphertexts leave the browser.
pub(super) async fn predict(offer: &app::he::HeOffer, rows: Vec<serde_json::Map<String, serde_json::Value>>) -> Result<WorkerReply> {
    let key = he_key()?;
    status("Encrypting in this browser…");
    let started = now_ms();
    let (quantised, clipped) = offer.quantise_rows(&rows).map_err(|e| e.detail())?;
    let body = key.request(offer, &quantised).map_err(|e| e.to_string())?;
    let encrypt_ms = now_ms() - started;
    status("The server is scoring the ciphertexts…");
    let started = now_ms();
    let url = format!("/api/models/{}/predict-encrypted", offer.model_id);
    let bytes: JsValue = js_sys::Uint8Array::from(body.as_slice()).into();
    let answer = ok(fetch_with("POST", &url, Some(("application/octet-stream", &bytes))).await?).await?;
    let answer = js_sys::Uint8Array::new(&JsFuture::from(answer.array_buffer()?).await?).to_vec();
    let round_trip_ms = now_ms() - started;
    let started = now_ms();
    let predictions = key.predictions(offer, &answer).map_err(|e| e.to_string())?;
    Ok(WorkerReply::HePredicted(Box::new(app::he::HeResult {
        rows,
        predictions,
        upload_bytes: body.len(),
        answer_bytes: answer.len(),
        encrypt_ms,
        round_trip_ms,
        decrypt_ms: now_ms() - started,
        clipped,
    })))
}

/// Uses the picked key file (docs/he.md's 256 bytes) instead of a key made here.
pub(super) async fn use_key(file: &File) -> Result<WorkerReply> {
    let bytes = read_whole(file, "").await?;
    let key = app::he::lwe::ClientKey::from_bytes(&bytes)
        .map_err(|_| format!("{} is not a key file (a key file is exactly 256 bytes; this one has {})", file.name(), bytes.len()))?;
    HE_KEY.with(|k| *k.borrow_mut() = Some(key));
    Ok(WorkerReply::HeKeyInUse { name: file.name() })
}

/// The key in use (made now if there is none yet), for the person to save.
pub(super) fn export_key() -> Result<WorkerReply> {
    Ok(WorkerReply::HeKeyExported { bytes: he_key()?.to_bytes() })
}
