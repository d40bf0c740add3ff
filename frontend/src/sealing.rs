//! The file work of the browser worker, as plain Rust over `app::table` and `app::crypto`:
//! reading a file for the preview or for prediction, the envelope and its wrapped keys, the
//! owner's key, and opening a download. `SealSession` is also exported to JavaScript, for the
//! end-to-end check that WebCrypto and the aes-gcm crate seal the same bytes.

use app::crypto::envelope::{open, Header, Sealer};
use app::crypto::passphrase::{open_secret, seal_secret};
use app::crypto::{b64, dataset_id_bytes, new_dataset_id, unb64, wrap, DataKey, KeyPair, Recipient, WrappedKey};
use app::file_worker::{OpenRequest, OpenedTable, UploadRequest, OPEN_ROWS};
use app::model::dataset::{NewDataset, OwnerKey};
use app::table::file::format_of;
use app::table::scan::Scan;
use app::table::{ParseOptions, Table};
use wasm_bindgen::prelude::wasm_bindgen;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Parses a whole JSON or Excel file (CSV is scanned in pieces by the worker) into the
/// preview's summary.
pub fn scan_whole(bytes: &[u8], file_name: &str, sheet: Option<String>) -> Result<Scan, String> {
    let format = format_of(file_name)?;
    let options = ParseOptions { sheet: sheet.filter(|s| !s.trim().is_empty()), header: None };
    let table = Table::parse(bytes, format, &options).map_err(err)?;
    Ok(Scan::of_table(&table, format, options))
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
        let mut session = SealSession::unwrapped(chunk_size)?;
        session.wrap_for(trainer_public_b64, owner_public_b64.as_deref())?;
        Ok(session)
    }

    pub fn id(&self) -> String {
        self.id.clone()
    }

    pub fn header_bytes(&self) -> Vec<u8> {
        self.header.to_bytes().to_vec()
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

impl SealSession {
    /// A fresh dataset id and data key, not yet wrapped to anyone: the file can be sealed
    /// while its preview is looked at, before the keys it is wrapped to are fetched.
    pub fn unwrapped(chunk_size: u32) -> Result<SealSession, String> {
        let id = new_dataset_id().map_err(err)?;
        let id_bytes = dataset_id_bytes(&id).map_err(err)?;
        let key = DataKey::generate().map_err(err)?;
        let header = Header::new(id_bytes, chunk_size).map_err(err)?;
        let sealer = Sealer::new(&key, header.clone());
        Ok(SealSession { id, key, header, sealer, wrapped: Vec::new() })
    }

    /// Wraps the data key to the trainer and (if given) the owner, in place of any wrappings
    /// before.
    pub fn wrap_for(&mut self, trainer_public_b64: &str, owner_public_b64: Option<&str>) -> Result<(), String> {
        let id_bytes = dataset_id_bytes(&self.id).map_err(err)?;
        let trainer = unb64("trainer public key", trainer_public_b64).map_err(err)?;
        let mut wrapped = vec![wrap::wrap(&self.key, &trainer, &id_bytes, Recipient::Trainer).map_err(err)?];
        if let Some(owner) = owner_public_b64 {
            let owner = unb64("owner public key", owner).map_err(err)?;
            wrapped.push(wrap::wrap(&self.key, &owner, &id_bytes, Recipient::Owner).map_err(err)?);
        }
        self.wrapped = wrapped;
        Ok(())
    }

    /// The dataset's declaration (`POST /api/datasets`): the scanned file's schema, the page's
    /// choices, and this session's id, envelope header and wrapped keys.
    pub fn declaration(&self, upload: UploadRequest, plaintext_size: u64) -> NewDataset {
        NewDataset {
            id: self.id.clone(),
            name: upload.name,
            domain: upload.domain,
            subdomain: upload.subdomain,
            format: upload.scan.format,
            parse_options: upload.scan.parse_options,
            schema: upload.scan.columns,
            rows: upload.scan.rows as u64,
            plaintext_size,
            wrapped_keys: self.wrapped.clone(),
            envelope_header: b64(&self.header.to_bytes()),
            shared: upload.shared,
            target: upload.target.filter(|t| !t.is_empty()),
        }
    }
}

/// A new owner key pair, the secret sealed under `passphrase`, as `PUT /api/keys/me` takes it.
pub fn new_owner_key(passphrase: &str) -> Result<OwnerKey, String> {
    let pair = KeyPair::generate().map_err(err)?;
    let sealed_secret = seal_secret(pair.secret(), passphrase, pair.public()).map_err(err)?;
    Ok(OwnerKey { public_key: b64(pair.public()), key_id: pair.key_id(), sealed_secret })
}

/// Opens a downloaded envelope with the owner's key (unlocked by the passphrase) and parses it.
pub fn open_owned(envelope: &[u8], request: &OpenRequest, owner_key: &OwnerKey) -> Result<OpenedTable, String> {
    let public = unb64("public key", &owner_key.public_key).map_err(err)?;
    let secret = open_secret(&owner_key.sealed_secret, &request.passphrase, &public).map_err(err)?;
    let pair = KeyPair::from_secret(&secret).map_err(err)?;
    let id = dataset_id_bytes(&request.id).map_err(err)?;
    let key = wrap::unwrap(&request.wrapped, &pair, &id).map_err(err)?;
    let plain = open(&key, &id, envelope).map_err(err)?;
    let table = Table::parse(&plain, request.format, &request.parse_options).map_err(err)?;
    let row_count = table.len();
    let rows = table.rows().take(OPEN_ROWS).collect();
    Ok(OpenedTable { columns: table.columns, row_count, rows })
}
