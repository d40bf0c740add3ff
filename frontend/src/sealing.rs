//! The sealing worker's bundle (`pkg/cipherfold_worker.js`, built with `--features worker`):
//! what `public/seal-worker.js` calls: parsing for the preview, the
//! envelope and key wrapping, the owner's key, and opening a download. All of it is
//! `app::table` and `app::crypto`; this file only converts to and from JavaScript.

use app::crypto::envelope::{open, Header, Sealer};
use app::crypto::passphrase::{open_secret, seal_secret};
use app::crypto::{b64, dataset_id_bytes, new_dataset_id, unb64, wrap, DataKey, KeyPair, Recipient, WrappedKey};
use app::model::dataset::{NewDataset, OwnerKey};
use app::table::scan::{CsvScanner, Scan};
use app::table::{Format, ParseOptions, Table};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::wasm_bindgen;

/// What a declaration takes from a parsed file's summary (`app::table::scan::Scan` as JSON).
#[derive(Deserialize)]
struct ParsedFile {
    format: Format,
    #[serde(default)]
    parse_options: ParseOptions,
    columns: Vec<app::table::Column>,
    rows: u64,
}

/// Rows the owner's "open" view shows at most.
const OPEN_ROWS: usize = 1000;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Parses a whole JSON or Excel file (CSV goes through [`CsvScan`] in pieces) and returns the
/// schema, row count, first rows and column summaries as JSON.
#[wasm_bindgen]
pub fn parse_preview(bytes: &[u8], file_name: &str, sheet: Option<String>) -> Result<String, String> {
    let format =
        Format::from_file_name(file_name).ok_or_else(|| format!("“{file_name}” is not a .csv, .tsv, .txt, .json, .jsonl or .xlsx file"))?;
    let options = ParseOptions { sheet: sheet.filter(|s| !s.trim().is_empty()), header: None };
    let table = Table::parse(bytes, format, &options).map_err(err)?;
    serde_json::to_string(&Scan::of_table(&table, format, options)).map_err(err)
}

/// Parses a file of rows to predict (batch prediction) and returns them as a JSON array of
/// `{column: value}` objects (missing values as null), at most `limit` rows.
#[wasm_bindgen]
pub fn rows_for_prediction(bytes: &[u8], file_name: &str, limit: usize) -> Result<String, String> {
    let format =
        Format::from_file_name(file_name).ok_or_else(|| format!("“{file_name}” is not a .csv, .tsv, .txt, .json, .jsonl or .xlsx file"))?;
    let table = Table::parse(bytes, format, &ParseOptions::default()).map_err(err)?;
    if table.rows.len() > limit {
        return Err(format!("the file has {} rows; predict at most {limit} at a time (split the file)", table.rows.len()));
    }
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = table
        .rows
        .iter()
        .map(|r| table.columns.iter().zip(r).map(|(c, cell)| (c.name.clone(), serde_json::to_value(cell).unwrap_or_default())).collect())
        .collect();
    serde_json::to_string(&rows).map_err(err)
}

/// A CSV file read in pieces: memory stays flat however large the file is.
#[wasm_bindgen]
pub struct CsvScan(Option<CsvScanner>);

#[wasm_bindgen]
impl CsvScan {
    #[wasm_bindgen(constructor)]
    pub fn new() -> CsvScan {
        CsvScan(Some(CsvScanner::new(ParseOptions::default())))
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.as_mut().ok_or("the scan is finished")?.push(bytes).map_err(err)
    }

    pub fn finish(&mut self) -> Result<String, String> {
        let scan = self.0.take().ok_or("the scan is finished")?.finish().map_err(err)?;
        serde_json::to_string(&scan).map_err(err)
    }
}

impl Default for CsvScan {
    fn default() -> Self {
        CsvScan::new()
    }
}

/// One dataset being sealed: its id, data key, header and the key's wrappings.
#[wasm_bindgen]
pub struct SealSession {
    id: String,
    key: DataKey,
    header: Header,
    sealer: Sealer,
    wrapped: Vec<WrappedKey>,
}

#[wasm_bindgen]
impl SealSession {
    /// A fresh dataset id and data key, wrapped to the trainer and (if given) the owner.
    #[wasm_bindgen(constructor)]
    pub fn new(trainer_public_b64: &str, owner_public_b64: Option<String>, chunk_size: u32) -> Result<SealSession, String> {
        let id = new_dataset_id().map_err(err)?;
        let id_bytes = dataset_id_bytes(&id).map_err(err)?;
        let key = DataKey::generate().map_err(err)?;
        let header = Header::new(id_bytes, chunk_size).map_err(err)?;
        let trainer = unb64("trainer public key", trainer_public_b64).map_err(err)?;
        let mut wrapped = vec![wrap::wrap(&key, &trainer, &id_bytes, Recipient::Trainer).map_err(err)?];
        if let Some(owner) = owner_public_b64 {
            let owner = unb64("owner public key", &owner).map_err(err)?;
            wrapped.push(wrap::wrap(&key, &owner, &id_bytes, Recipient::Owner).map_err(err)?);
        }
        let sealer = Sealer::new(&key, header.clone());
        Ok(SealSession { id, key, header, sealer, wrapped })
    }

    pub fn id(&self) -> String {
        self.id.clone()
    }

    pub fn header_bytes(&self) -> Vec<u8> {
        self.header.to_bytes().to_vec()
    }

    /// The dataset's declaration (`POST /api/datasets`) as JSON: the parsed file's schema
    /// (`scan_json`, what `parse_preview` or `CsvScan` returned), the page's choices, and this
    /// session's id, envelope header and wrapped keys. Built here, from `NewDataset`, so the
    /// declaration's shape is written once, in Rust, not again in the worker's JavaScript.
    #[allow(clippy::too_many_arguments)] // one per field the page chooses; JavaScript calls it positionally
    pub fn declaration(
        &self,
        scan_json: &str,
        name: String,
        domain: String,
        subdomain: String,
        shared: bool,
        target: Option<String>,
        plaintext_size: f64,
    ) -> Result<String, String> {
        let scan: ParsedFile = serde_json::from_str(scan_json).map_err(|e| format!("the parsed file: {e}"))?;
        let declaration = NewDataset {
            id: self.id.clone(),
            name,
            domain,
            subdomain,
            format: scan.format,
            parse_options: scan.parse_options,
            schema: scan.columns,
            rows: scan.rows,
            plaintext_size: plaintext_size as u64,
            wrapped_keys: self.wrapped.clone(),
            envelope_header: b64(&self.header.to_bytes()),
            shared,
            target: target.filter(|t| !t.is_empty()),
        };
        serde_json::to_string(&declaration).map_err(err)
    }

    /// The data key, for WebCrypto's AES-GCM (imported non-extractable). Never sent anywhere.
    pub fn raw_key(&self) -> Vec<u8> {
        self.key.as_bytes().to_vec()
    }

    /// The nonce of chunk `index`, so WebCrypto seals exactly what `seal_chunk` would.
    pub fn nonce(&self, index: u32, last: bool) -> Vec<u8> {
        self.header.nonce(index, last).to_vec()
    }

    /// Seals the next chunk in wasm (the aes-gcm crate): the fallback when WebCrypto is absent.
    pub fn seal_chunk(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, String> {
        self.sealer.seal_chunk(chunk, last).map_err(err)
    }
}

/// A new owner key pair, the secret sealed under `passphrase`, as the JSON `PUT /api/keys/me` takes.
#[wasm_bindgen]
pub fn create_owner_key(passphrase: &str) -> Result<String, String> {
    let pair = KeyPair::generate().map_err(err)?;
    let sealed_secret = seal_secret(pair.secret(), passphrase, pair.public()).map_err(err)?;
    let key = OwnerKey { public_key: b64(pair.public()), key_id: pair.key_id(), sealed_secret };
    serde_json::to_string(&key).map_err(err)
}

#[derive(Serialize)]
struct Opened<'a> {
    columns: &'a [app::table::Column],
    row_count: usize,
    rows: &'a [Vec<app::table::Cell>],
}

/// Opens a downloaded envelope with the owner's key (unlocked by the passphrase) and parses it.
#[wasm_bindgen]
pub fn open_owned(
    envelope: &[u8],
    dataset_id: &str,
    owner_wrapped_json: &str,
    owner_key_json: &str,
    passphrase: &str,
    parse_options_json: &str,
    format: &str,
) -> Result<String, String> {
    let owner_key: OwnerKey = serde_json::from_str(owner_key_json).map_err(err)?;
    let wrapped: WrappedKey = serde_json::from_str(owner_wrapped_json).map_err(err)?;
    let public = unb64("public key", &owner_key.public_key).map_err(err)?;
    let secret = open_secret(&owner_key.sealed_secret, passphrase, &public).map_err(err)?;
    let pair = KeyPair::from_secret(&secret).map_err(err)?;
    let id = dataset_id_bytes(dataset_id).map_err(err)?;
    let key = wrap::unwrap(&wrapped, &pair, &id).map_err(err)?;
    let plain = open(&key, &id, envelope).map_err(err)?;
    let format = Format::parse_name(format).ok_or("unknown format")?;
    let options: ParseOptions = serde_json::from_str(parse_options_json).map_err(err)?;
    let table = Table::parse(&plain, format, &options).map_err(err)?;
    let opened = Opened { columns: &table.columns, row_count: table.rows.len(), rows: &table.rows[..table.rows.len().min(OPEN_ROWS)] };
    serde_json::to_string(&opened).map_err(err)
}
