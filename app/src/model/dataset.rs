//! Datasets on the wire: what the browser declares before uploading ciphertext, and what the
//! server says about a stored dataset. Only metadata; the rows never appear here.

use serde::{Deserialize, Serialize};

use crate::crypto::envelope::{Header, HEADER_LEN, TAG_LEN};
use crate::crypto::passphrase::SealedSecret;
use crate::crypto::{unb64, Recipient, WrappedKey};
use crate::model::{ApiError, FieldErrors};
use crate::table::{Column, Format, ParseOptions};

pub const MAX_NAME_CHARS: usize = 120;
pub const MAX_COLUMNS: usize = 10_000;
/// The default upload limit; `--max-dataset-bytes` changes it.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetStatus {
    /// Declared; the ciphertext has not arrived (or an upload of it was broken off: send it again).
    Pending,
    /// The ciphertext is arriving; another upload of it meanwhile is refused (409).
    Uploading,
    /// The whole envelope is stored and its length and header checked.
    Ready,
}

/// `POST /api/datasets`: declared by the browser after sealing has started, before the upload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewDataset {
    /// 32 hex digits chosen by the client, because it is sealed into the envelope's header
    /// (and the key wrapping) before the server has seen anything.
    pub id: String,
    pub name: String,
    pub domain: String,
    pub subdomain: String,
    pub format: Format,
    #[serde(default)]
    pub parse_options: ParseOptions,
    pub schema: Vec<Column>,
    pub rows: u64,
    pub plaintext_size: u64,
    pub wrapped_keys: Vec<WrappedKey>,
    /// Base64 of the envelope's 40-byte header.
    pub envelope_header: String,
    /// Whether people in the same domain and subdomain see this dataset (metadata only).
    #[serde(default)]
    pub shared: bool,
    /// The column the owner means to predict, if chosen at upload.
    #[serde(default)]
    pub target: Option<String>,
}

impl NewDataset {
    /// Checks everything that can be checked without the ciphertext; returns the parsed header.
    pub fn validate(&self, max_bytes: u64) -> Result<Header, ApiError> {
        let mut f = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            f.insert("name".into(), format!("give the dataset a name of 1 to {MAX_NAME_CHARS} characters"));
        }
        if self.schema.is_empty() || self.schema.len() > MAX_COLUMNS {
            f.insert("schema".into(), format!("a dataset has 1 to {MAX_COLUMNS} columns"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.schema.iter().find(|c| !seen.insert(c.name.as_str())) {
            f.insert("schema".into(), format!("column “{}” appears twice", dup.name));
        }
        if let Some(t) = &self.target {
            if !self.schema.iter().any(|c| &c.name == t) {
                f.insert("target".into(), format!("“{t}” is not one of the dataset's columns"));
            }
        }
        if self.rows == 0 {
            f.insert("rows".into(), "a dataset needs at least one row".into());
        }
        let header = match unb64("envelope header", &self.envelope_header).map_err(|e| e.to_string()).and_then(|b| {
            if b.len() != HEADER_LEN {
                return Err(format!("expected {HEADER_LEN} bytes, got {}", b.len()));
            }
            Header::parse(&b).map_err(|e| e.to_string())
        }) {
            Ok(h) if h.dataset_id_hex() != self.id => {
                f.insert("envelope_header".into(), "the header is sealed for a different dataset id".into());
                None
            }
            Ok(h) => Some(h),
            Err(e) => {
                f.insert("envelope_header".into(), e);
                None
            }
        };
        if crate::crypto::dataset_id_bytes(&self.id).is_err() || self.id.chars().any(|c| c.is_ascii_uppercase()) {
            f.insert("id".into(), "expected 32 lowercase hexadecimal digits".into());
        }
        let trainer = self.wrapped_keys.iter().filter(|w| w.recipient == Recipient::Trainer).count();
        let owner = self.wrapped_keys.iter().filter(|w| w.recipient == Recipient::Owner).count();
        if trainer != 1 || owner > 1 {
            f.insert("wrapped_keys".into(), "wrap the data key once to the trainer (and at most once to yourself)".into());
        }
        for w in &self.wrapped_keys {
            let enc = unb64("encapsulated key", &w.enc).map(|b| b.len());
            let ct = unb64("wrapped key", &w.ciphertext).map(|b| b.len());
            if enc != Ok(32) || ct != Ok(32 + TAG_LEN) {
                f.insert("wrapped_keys".into(), "a wrapped key has 32 bytes of enc and 48 of ciphertext, in base64".into());
            }
        }
        if !f.is_empty() {
            return Err(ApiError::Validation { fields: f });
        }
        if self.plaintext_size > max_bytes {
            return Err(ApiError::TooLarge {
                message: format!(
                    "the file is {} and this server accepts datasets up to {}; split it, or ask an administrator to raise --max-dataset-bytes",
                    human_bytes(self.plaintext_size),
                    human_bytes(max_bytes)
                ),
            });
        }
        header.ok_or_else(|| ApiError::field("envelope_header", "invalid"))
    }
}

/// A stored dataset, as its owner and the people it is shared with see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub id: String,
    pub name: String,
    pub owner_id: String,
    pub owner: String,
    pub domain: String,
    pub subdomain: String,
    pub format: Format,
    pub parse_options: ParseOptions,
    pub schema: Vec<Column>,
    pub rows: u64,
    pub plaintext_size: u64,
    pub ciphertext_size: u64,
    pub shared: bool,
    pub target: Option<String>,
    pub status: DatasetStatus,
    /// When the owner consented to joint training (other people's jobs in the area).
    #[serde(default)]
    pub consent_at: Option<String>,
    pub created_at: String,
    /// The owner's own wrapping of the data key; present only in the owner's view.
    pub owner_wrapped_key: Option<WrappedKey>,
    /// Every wrapping (trainer and owner), in the owner's view only: harmless to show, since
    /// each opens only with its recipient's private key, and it lets independent tools check.
    #[serde(default)]
    pub wrapped_keys: Vec<WrappedKey>,
}

/// `GET /api/keys/trainer`: where browsers wrap data keys to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainerKey {
    pub suite: String,
    /// Base64 of the 32-byte X25519 public key.
    pub public_key: String,
    pub key_id: String,
}

/// `GET`/`PUT /api/keys/me`: an owner's key pair, the secret half sealed under their passphrase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerKey {
    pub public_key: String,
    pub key_id: String,
    pub sealed_secret: SealedSecret,
}

/// "1.2 MB": sizes in messages people read.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
