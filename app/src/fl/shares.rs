//! The share envelope: what participant `from` sends participant `to` (through the server,
//! which cannot read it) so that `to` can later reveal one of `from`'s two secrets. A fixed
//! binary layout, parsed by position; no general-purpose deserializer sees it.
//!
//! Plaintext, 69 bytes: `0x01` (version) ‖ `from` (u16 BE) ‖ `to` (u16 BE) ‖ the share of
//! `m_from` at `x = to` (32 bytes, a canonical little-endian scalar) ‖ the share of `b_from` at
//! `x = to` (32 bytes, likewise). Sealed with AES-256-GCM under
//! `HKDF-SHA256(salt = round context, ikm = X25519(share key of from, share key of to), info =
//! "share key")`, a zero nonce (each such key seals exactly one envelope) and the associated
//! data `round context ‖ from ‖ to`: 85 bytes on the wire.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use curve25519_dalek::scalar::Scalar;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::masks::{agree, RoundContext, SHARE_KEY_INFO};
use super::shamir::Share;
use super::FlError;

const VERSION: u8 = 1;
pub const PLAINTEXT_LEN: usize = 1 + 2 + 2 + 32 + 32;
pub const SEALED_LEN: usize = PLAINTEXT_LEN + 16;

/// One envelope's content: `from`'s shares for `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharePair {
    pub from: u16,
    pub to: u16,
    /// Share of `m_from` (its `x` is `to`).
    pub mask: Scalar,
    /// Share of `b_from` (its `x` is `to`).
    pub self_seed: Scalar,
}

impl SharePair {
    pub fn mask_share(&self) -> Share {
        Share { x: self.to, y: self.mask }
    }

    pub fn self_share(&self) -> Share {
        Share { x: self.to, y: self.self_seed }
    }
}

fn associated(context: &RoundContext, from: u16, to: u16) -> Vec<u8> {
    let mut aad = context.bytes();
    aad.extend_from_slice(&from.to_be_bytes());
    aad.extend_from_slice(&to.to_be_bytes());
    aad
}

fn cipher(mine: &StaticSecret, theirs: &[u8; 32], context: &RoundContext) -> Result<Aes256Gcm, FlError> {
    let key = Zeroizing::new(agree(mine, &PublicKey::from(*theirs), context, SHARE_KEY_INFO)?);
    Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| FlError::Protocol("a 32-byte AES key was refused".into()))
}

/// Seals `pair` from the sender's share key to the recipient's advertised share public key.
pub fn seal(pair: &SharePair, sender: &StaticSecret, recipient_public: &[u8; 32], context: &RoundContext) -> Result<Vec<u8>, FlError> {
    let mut plain = Zeroizing::new(Vec::with_capacity(PLAINTEXT_LEN));
    plain.push(VERSION);
    plain.extend_from_slice(&pair.from.to_be_bytes());
    plain.extend_from_slice(&pair.to.to_be_bytes());
    plain.extend_from_slice(pair.mask.as_bytes());
    plain.extend_from_slice(pair.self_seed.as_bytes());
    let aad = associated(context, pair.from, pair.to);
    cipher(sender, recipient_public, context)?
        .encrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: &plain, aad: &aad })
        .map_err(|_| FlError::Protocol("sealing a share failed".into()))
}

/// Opens an envelope addressed to `to` from `from` (the recipient's share key, the sender's
/// advertised share public key). Anything else (another round, another pair, a flipped bit,
/// a non-canonical scalar) is refused.
pub fn open(
    sealed: &[u8],
    from: u16,
    to: u16,
    recipient: &StaticSecret,
    sender_public: &[u8; 32],
    context: &RoundContext,
) -> Result<SharePair, FlError> {
    if sealed.len() != SEALED_LEN {
        return Err(FlError::Protocol(format!("a share envelope is {SEALED_LEN} bytes, not {}", sealed.len())));
    }
    let aad = associated(context, from, to);
    let plain = Zeroizing::new(
        cipher(recipient, sender_public, context)?
            .decrypt(Nonce::from_slice(&[0u8; 12]), Payload { msg: sealed, aad: &aad })
            .map_err(|_| FlError::Protocol(format!("the share envelope from participant {from} does not open")))?,
    );
    if plain[0] != VERSION || plain[1..3] != from.to_be_bytes() || plain[3..5] != to.to_be_bytes() {
        return Err(FlError::Protocol(format!("the share envelope from participant {from} names another sender, recipient or version")));
    }
    let scalar = |bytes: &[u8]| -> Result<Scalar, FlError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| FlError::Protocol("a share is 32 bytes".into()))?;
        Option::from(Scalar::from_canonical_bytes(array)).ok_or_else(|| FlError::Protocol("a share is not a canonical scalar".into()))
    };
    Ok(SharePair { from, to, mask: scalar(&plain[5..37])?, self_seed: scalar(&plain[37..69])? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fl::masks::RoundSecrets;

    #[test]
    fn an_envelope_opens_only_for_its_pair_and_round() {
        let ctx = RoundContext { federation: "f".into(), round: 1 };
        let (a, b) = (RoundSecrets::generate().unwrap(), RoundSecrets::generate().unwrap());
        let (pa, pb) = (a.advertised().share_public, b.advertised().share_public);
        let pair = SharePair { from: 1, to: 2, mask: Scalar::from(11u64), self_seed: Scalar::from(12u64) };
        let sealed = seal(&pair, &a.share_key, &pb, &ctx).unwrap();
        assert_eq!(sealed.len(), SEALED_LEN);
        assert_eq!(open(&sealed, 1, 2, &b.share_key, &pa, &ctx).unwrap(), pair);
        assert!(open(&sealed, 1, 3, &b.share_key, &pa, &ctx).is_err(), "another recipient number");
        assert!(open(&sealed, 1, 2, &b.share_key, &pa, &RoundContext { round: 2, ..ctx.clone() }).is_err(), "another round");
        let mut flipped = sealed.clone();
        flipped[10] ^= 1;
        assert!(open(&flipped, 1, 2, &b.share_key, &pa, &ctx).is_err());
        assert!(open(&sealed[..40], 1, 2, &b.share_key, &pa, &ctx).is_err());
    }
}
