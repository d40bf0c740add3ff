//! Dataset protection: the envelope a file is sealed in, the data key's wrapping, and the
//! passphrase protection of an owner's private key. Byte layouts are in `docs/envelope.md`;
//! this code and that page must agree, because an independent implementation reads by it.

pub mod envelope;
pub mod passphrase;
pub mod wrap;

use zeroize::Zeroizing;

pub use envelope::{Header, Opener, Sealer, StreamOpener};
pub use wrap::{KeyPair, Recipient, WrappedKey};

/// Why sealing or opening failed. The messages say what happened, never key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("not a Cipherfold envelope (the first bytes are not the envelope's magic)")]
    BadMagic,
    #[error("envelope version {0} is not supported; this build reads version 1")]
    UnsupportedVersion(u8),
    #[error("envelope algorithm {0} is not supported; this build reads 1 (AES-256-GCM STREAM)")]
    UnsupportedAlgorithm(u8),
    #[error("malformed envelope header: {0}")]
    BadHeader(String),
    #[error("the envelope belongs to dataset {found}, not {expected}")]
    WrongDataset { expected: String, found: String },
    #[error("chunk {index} failed authentication: the data was changed, reordered, truncated, or belongs to another dataset or key")]
    ChunkFailed { index: u64 },
    #[error("the envelope is truncated: {0}")]
    Truncated(String),
    #[error("chunk {index} has {len} bytes; every chunk but the last must hold exactly {expected}")]
    ChunkSize { index: u64, len: usize, expected: usize },
    #[error("the data key could not be unwrapped: wrong private key, or the wrapping was changed")]
    Unwrap,
    #[error("the passphrase is wrong, or the protected key was changed")]
    Passphrase,
    #[error("invalid {what}: {message}")]
    Encoding { what: &'static str, message: String },
    #[error("the system random number generator failed")]
    Random,
}

/// A dataset's 256-bit data key; zeroed when dropped.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn generate() -> Result<DataKey, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|_| CryptoError::Random)?;
        Ok(DataKey(key))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DataKey, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::Encoding { what: "data key", message: format!("expected 32 bytes, got {}", bytes.len()) })?;
        Ok(DataKey(Zeroizing::new(arr)))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

/// Dataset ids are 16 random bytes, written as 32 lowercase hex digits everywhere else.
pub fn dataset_id_bytes(id: &str) -> Result<[u8; 16], CryptoError> {
    let bytes = hex::decode(id).map_err(|e| CryptoError::Encoding { what: "dataset id", message: e.to_string() })?;
    bytes.try_into().map_err(|_| CryptoError::Encoding { what: "dataset id", message: "expected 32 hexadecimal digits".into() })
}

/// A new dataset id from the system's random source.
pub fn new_dataset_id() -> Result<String, CryptoError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| CryptoError::Random)?;
    Ok(hex::encode(id))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(what: &'static str, s: &str) -> Result<Vec<u8>, CryptoError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| CryptoError::Encoding { what, message: e.to_string() })
}

/// Short, stable name of a public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(public_key)[..8])
}
