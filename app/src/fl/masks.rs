//! The masks of secure aggregation (Bonawitz et al. 2017) and the keys they come from.
//!
//! Each participant `u` of a round holds two secrets, both elements of the field that
//! `shamir` shares: `m_u`, whose bytes are its X25519 masking key, and `b_u`, whose bytes seed
//! its self-mask. With every other participant `v` it agrees a pair seed
//! `s_uv = HKDF(X25519(m_u, M_v))`, so `s_uv = s_vu`. It sends
//! `y_u = x_u + PRG(b_u) + Σ_{v > u} PRG(s_uv) − Σ_{v < u} PRG(s_uv)` (mod 2^64): in the sum
//! over everyone the pair masks cancel, and the server removes the self-masks once enough
//! participants reveal shares of each `b_u`. For a participant who dropped out after the pair
//! seeds were agreed, its `m_v` is rebuilt from shares instead and its pair masks removed.
//! `PRG(seed)` is the ChaCha20 keystream (RFC 8439) under the whole 256-bit seed.

use chacha20::cipher::{KeyIvInit, StreamCipher};
use curve25519_dalek::scalar::Scalar;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroize;

use super::shamir::random_scalar;
use super::FlError;

/// A round's identity, bound into every key derivation and share envelope so that nothing
/// from one round (or federation) is accepted in another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundContext {
    pub federation: String,
    pub round: u32,
}

impl RoundContext {
    /// `"cipherfold-secagg-v1" || u16 BE length || federation id (UTF-8) || u32 BE round`.
    pub fn bytes(&self) -> Vec<u8> {
        let id = self.federation.as_bytes();
        let mut out = b"cipherfold-secagg-v1".to_vec();
        out.extend_from_slice(&(id.len() as u16).to_be_bytes());
        out.extend_from_slice(id);
        out.extend_from_slice(&self.round.to_be_bytes());
        out
    }
}

/// HKDF info strings: one key per purpose from one agreement.
pub const PAIR_MASK_INFO: &[u8] = b"pair mask";
pub const SHARE_KEY_INFO: &[u8] = b"share key";
/// Domain separation of the self-mask commitment.
const SELF_COMMIT_PREFIX: &[u8] = b"cipherfold self-mask commitment";

/// The X25519 key whose secret bytes are `m` (clamped by X25519 as usual).
pub fn mask_key(m: &Scalar) -> StaticSecret {
    StaticSecret::from(m.to_bytes())
}

/// SHA-256 of the prefix and `b`: published with the keys, so the server can tell a rebuilt
/// self-mask seed from a wrong one (a participant who sent garbage shares).
pub fn self_commitment(b: &Scalar) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SELF_COMMIT_PREFIX);
    h.update(b.as_bytes());
    h.finalize().into()
}

/// `HKDF-SHA256(salt = context, ikm = X25519(secret, peer), info)`, 32 bytes. Refuses a peer
/// key of small order (the agreement would be all zeros, known to everyone).
pub fn agree(secret: &StaticSecret, peer: &PublicKey, context: &RoundContext, info: &[u8]) -> Result<[u8; 32], FlError> {
    let shared = secret.diffie_hellman(peer);
    if !shared.was_contributory() {
        return Err(FlError::Protocol("a peer's public key is of small order".into()));
    }
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&context.bytes()), shared.as_bytes())
        .expand(info, &mut out)
        .map_err(|_| FlError::Protocol("HKDF refused a 32-byte output".into()))?;
    Ok(out)
}

/// `len` values of the ChaCha20 keystream under `seed` (zero nonce, counter from 0), each 8
/// bytes read little-endian.
pub fn expand(seed: &[u8; 32], len: usize) -> Vec<u64> {
    let mut bytes = vec![0u8; len * 8];
    chacha20::ChaCha20::new(seed.into(), &[0u8; 12].into()).apply_keystream(&mut bytes);
    bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect()
}

fn add(acc: &mut [u64], mask: &[u64]) {
    acc.iter_mut().zip(mask).for_each(|(a, m)| *a = a.wrapping_add(*m));
}

fn sub(acc: &mut [u64], mask: &[u64]) {
    acc.iter_mut().zip(mask).for_each(|(a, m)| *a = a.wrapping_sub(*m));
}

/// A participant's secrets for one round.
pub struct RoundSecrets {
    /// For the share envelopes (a fresh X25519 key, not shared).
    pub share_key: StaticSecret,
    /// `m_u`: the masking key's secret, shared with the peers.
    pub mask_secret: Scalar,
    /// `b_u`: the self-mask seed, shared with the peers.
    pub self_secret: Scalar,
}

/// What a participant advertises: its two public keys and the commitment to `b_u`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertised {
    pub share_public: [u8; 32],
    pub mask_public: [u8; 32],
    pub self_commitment: [u8; 32],
}

impl RoundSecrets {
    pub fn generate() -> Result<RoundSecrets, FlError> {
        let mut share = [0u8; 32];
        getrandom::fill(&mut share).map_err(|e| FlError::Random(e.to_string()))?;
        let share_key = StaticSecret::from(share);
        share.zeroize();
        Ok(RoundSecrets { share_key, mask_secret: random_scalar()?, self_secret: random_scalar()? })
    }

    pub fn advertised(&self) -> Advertised {
        Advertised {
            share_public: PublicKey::from(&self.share_key).to_bytes(),
            mask_public: PublicKey::from(&mask_key(&self.mask_secret)).to_bytes(),
            self_commitment: self_commitment(&self.self_secret),
        }
    }

    /// The masked input: `values` plus the self-mask plus the pair masks with each peer in
    /// `peers` (`(number, masking public key)`, everyone who will be summed, not `me`).
    pub fn mask(&self, values: &[u64], me: u16, peers: &[(u16, [u8; 32])], context: &RoundContext) -> Result<Vec<u64>, FlError> {
        let mut y = values.to_vec();
        add(&mut y, &expand(&self.self_secret.to_bytes(), values.len()));
        let secret = mask_key(&self.mask_secret);
        for &(v, public) in peers {
            if v == me {
                continue;
            }
            let mask = expand(&agree(&secret, &PublicKey::from(public), context, PAIR_MASK_INFO)?, values.len());
            if me < v {
                add(&mut y, &mask);
            } else {
                sub(&mut y, &mask);
            }
        }
        Ok(y)
    }
}

/// The server's last step: from the sum of the survivors' masked inputs, removes each
/// survivor's self-mask (`self_secrets`, rebuilt from shares) and each pair mask a survivor
/// shares with a participant who dropped out (`dropped`: the dropped one's number, its rebuilt
/// `m_v`, and `survivors`' masking public keys).
pub fn unmask(
    sum: &mut [u64],
    self_secrets: &[Scalar],
    dropped: &[(u16, Scalar)],
    survivors: &[(u16, [u8; 32])],
    context: &RoundContext,
) -> Result<(), FlError> {
    for b in self_secrets {
        sub(sum, &expand(&b.to_bytes(), sum.len()));
    }
    for (v, m_v) in dropped {
        let secret = mask_key(m_v);
        for &(u, public) in survivors {
            let mask = expand(&agree(&secret, &PublicKey::from(public), context, PAIR_MASK_INFO)?, sum.len());
            // Survivor u added this mask if u < v and subtracted it if u > v; undo that.
            if u < *v {
                sub(sum, &mask);
            } else {
                add(sum, &mask);
            }
        }
    }
    Ok(())
}

/// The sum of vectors of equal length, modulo 2^64.
pub fn sum(vectors: &[Vec<u64>]) -> Vec<u64> {
    let mut acc = vec![0u64; vectors.first().map_or(0, Vec::len)];
    for v in vectors {
        add(&mut acc, v);
    }
    acc
}

/// The pair mask of `n` words between the secret `secret` and the peer `peer_public` in a
/// round: `PRG(agree(secret, peer, context, "pair mask"), n)`. The browser's worker exports it
/// so that a test can hold the wasm build's masks against the native known answer.
pub fn pair_mask(secret: [u8; 32], peer_public: [u8; 32], context: &RoundContext, n: usize) -> Result<Vec<u64>, FlError> {
    let seed = agree(&StaticSecret::from(secret), &PublicKey::from(peer_public), context, PAIR_MASK_INFO)?;
    Ok(expand(&seed, n))
}

/// Known answer of `pair_mask`: secret `[1; 32]`, the peer's secret `[2; 32]`, federation
/// `"kat"`, round 1, four words. Python's `cryptography` gives the same
/// (tests/independent/secagg.py's `agree` and `expand`), and the wasm build in the browser too
/// (end2end/tests/federations.spec.ts).
pub const PAIR_MASK_KAT: [u64; 4] = [10413276666273874620, 9528624886230053263, 14183911283953279812, 16433318361133519855];

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! hex {
        ($s:literal) => {{
            let v = ::hex::decode($s).unwrap();
            <[u8; 8]>::try_from(v.as_slice()).unwrap()
        }};
    }

    fn context() -> RoundContext {
        RoundContext { federation: "fed-1".into(), round: 3 }
    }

    #[test]
    fn pair_masks_cancel_and_self_masks_come_off() {
        let ctx = context();
        let parts: Vec<RoundSecrets> = (0..4).map(|_| RoundSecrets::generate().unwrap()).collect();
        let publics: Vec<(u16, [u8; 32])> = parts.iter().enumerate().map(|(i, p)| (i as u16 + 1, p.advertised().mask_public)).collect();
        let inputs: Vec<Vec<u64>> = (0..4u64).map(|i| vec![i, 10 * i, u64::MAX - i]).collect();
        let masked: Vec<Vec<u64>> =
            parts.iter().enumerate().map(|(i, p)| p.mask(&inputs[i], i as u16 + 1, &publics, &ctx).unwrap()).collect();
        for (m, x) in masked.iter().zip(&inputs) {
            assert!(m.iter().zip(x).all(|(a, b)| a != b), "a masked input differs from the input everywhere");
        }
        let mut total = sum(&masked);
        let selfs: Vec<Scalar> = parts.iter().map(|p| p.self_secret).collect();
        unmask(&mut total, &selfs, &[], &publics, &ctx).unwrap();
        assert_eq!(total, sum(&inputs));
    }

    #[test]
    fn a_dropout_after_the_keys_is_removed_with_its_rebuilt_mask_key() {
        let ctx = context();
        let parts: Vec<RoundSecrets> = (0..3).map(|_| RoundSecrets::generate().unwrap()).collect();
        let publics: Vec<(u16, [u8; 32])> = parts.iter().enumerate().map(|(i, p)| (i as u16 + 1, p.advertised().mask_public)).collect();
        let inputs = [vec![5u64, 6], vec![7, 8], vec![100, 200]];
        // Participant 2 agreed its keys, then never sent its input.
        let masked: Vec<Vec<u64>> = [0usize, 2].iter().map(|&i| parts[i].mask(&inputs[i], i as u16 + 1, &publics, &ctx).unwrap()).collect();
        let mut total = sum(&masked);
        let survivors = [publics[0], publics[2]];
        unmask(&mut total, &[parts[0].self_secret, parts[2].self_secret], &[(2, parts[1].mask_secret)], &survivors, &ctx).unwrap();
        assert_eq!(total, vec![105, 206]);
    }

    #[test]
    fn another_round_gives_other_masks_and_the_keystream_is_chacha20() {
        let a = RoundSecrets::generate().unwrap();
        let b = RoundSecrets::generate().unwrap();
        let pb = PublicKey::from(b.advertised().mask_public);
        let r3 = agree(&mask_key(&a.mask_secret), &pb, &context(), PAIR_MASK_INFO).unwrap();
        let r4 = agree(&mask_key(&a.mask_secret), &pb, &RoundContext { round: 4, ..context() }, PAIR_MASK_INFO).unwrap();
        assert_ne!(r3, r4);
        let ba = agree(&mask_key(&b.mask_secret), &PublicKey::from(a.advertised().mask_public), &context(), PAIR_MASK_INFO).unwrap();
        assert_eq!(r3, ba, "both ends agree the same seed");
        // RFC 8439 appendix A.1, test vector 1: the all-zero key, zero nonce, block 0.
        let ks = expand(&[0u8; 32], 2);
        assert_eq!(ks, [u64::from_le_bytes(hex!("76b8e0ada0f13d90")), u64::from_le_bytes(hex!("405d6ae55386bd28"))]);
        assert!(agree(&mask_key(&a.mask_secret), &PublicKey::from([0u8; 32]), &context(), PAIR_MASK_INFO).is_err(), "small order");
    }

    #[test]
    fn the_pair_mask_known_answer_holds_and_both_ends_agree() {
        let ctx = RoundContext { federation: "kat".into(), round: 1 };
        let public = |s: [u8; 32]| PublicKey::from(&StaticSecret::from(s)).to_bytes();
        let ab = pair_mask([1; 32], public([2; 32]), &ctx, 4).unwrap();
        let ba = pair_mask([2; 32], public([1; 32]), &ctx, 4).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab, PAIR_MASK_KAT, "{ab:?}");
    }
}
