//! The byte layouts of the round messages inside their JSON bodies (`docs/federated.md`,
//! "Messages"): 32-byte keys, 85-byte envelopes, vectors of little-endian 64-bit words and
//! 37-byte reveals, each base64 (standard alphabet, padded). Participants encode with these
//! and the server decodes with them, refusing a wrong length with the field named.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::masks::Advertised;
use super::round::{Reveal, REVEAL_LEN};
use super::shares::SEALED_LEN;
use super::FlError;
use crate::model::federation::KeysMessage;

fn bad(field: &str, rule: impl std::fmt::Display) -> FlError {
    FlError::Protocol(format!("{field}: {rule}"))
}

fn bytes(field: &str, text: &str) -> Result<Vec<u8>, FlError> {
    STANDARD.decode(text).map_err(|_| bad(field, "is not base64 (standard alphabet, padded)"))
}

fn key(field: &str, text: &str) -> Result<[u8; 32], FlError> {
    let b = bytes(field, text)?;
    b.as_slice().try_into().map_err(|_| bad(field, format!("must be 32 bytes, not {}", b.len())))
}

pub fn keys_message(a: &Advertised) -> KeysMessage {
    KeysMessage {
        share_public: STANDARD.encode(a.share_public),
        mask_public: STANDARD.encode(a.mask_public),
        commitment: STANDARD.encode(a.self_commitment),
    }
}

pub fn advertised(m: &KeysMessage) -> Result<Advertised, FlError> {
    Ok(Advertised {
        share_public: key("share_public", &m.share_public)?,
        mask_public: key("mask_public", &m.mask_public)?,
        self_commitment: key("commitment", &m.commitment)?,
    })
}

pub fn envelope_text(sealed: &[u8]) -> String {
    STANDARD.encode(sealed)
}

/// A sealed envelope's bytes; its length is checked here, its contents only by its recipient.
pub fn envelope(field: &str, text: &str) -> Result<Vec<u8>, FlError> {
    let b = bytes(field, text)?;
    if b.len() != SEALED_LEN {
        return Err(bad(field, format!("an envelope is {SEALED_LEN} bytes, not {}", b.len())));
    }
    Ok(b)
}

pub fn words_text(words: &[u64]) -> String {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// A masked vector of exactly `len` words.
pub fn words(field: &str, text: &str, len: usize) -> Result<Vec<u64>, FlError> {
    let b = bytes(field, text)?;
    if b.len() != len * 8 {
        return Err(bad(field, format!("this round's vector is {len} words ({} bytes), not {} bytes", len * 8, b.len())));
    }
    Ok(b.chunks_exact(8).map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
}

pub fn reveals_text(reveals: &[Reveal]) -> String {
    let bytes: Vec<u8> = reveals.iter().flat_map(|r| r.to_bytes()).collect();
    STANDARD.encode(bytes)
}

pub fn reveals(field: &str, text: &str) -> Result<Vec<Reveal>, FlError> {
    let b = bytes(field, text)?;
    if b.len() % REVEAL_LEN != 0 {
        return Err(bad(field, format!("revealed shares are {REVEAL_LEN} bytes each; {} bytes is not a whole number of them", b.len())));
    }
    b.chunks_exact(REVEAL_LEN).map(Reveal::from_bytes).collect::<Result<_, _>>().map_err(|e| bad(field, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_a_wrong_length_names_the_field() {
        let v = vec![0, 1, u64::MAX, 1 << 63];
        assert_eq!(words("masked", &words_text(&v), 4).unwrap(), v);
        let e = words("masked", &words_text(&v), 5).unwrap_err().to_string();
        assert_eq!(e, "masked: this round's vector is 5 words (40 bytes), not 32 bytes");
        assert!(key("mask_public", "AAAA").unwrap_err().to_string().starts_with("mask_public: must be 32 bytes"));
        assert!(reveals("shares", "!!").is_err());
    }
}
