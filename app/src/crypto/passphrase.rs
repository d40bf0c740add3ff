//! An owner's private key, protected by a passphrase only its owner knows, so the server can
//! keep it for them (any device can download and open) without being able to use it.
//! Argon2id derives a key-encryption key; AES-256-GCM seals the 32-byte secret.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{b64, unb64, CryptoError};

/// OWASP's Argon2id baseline (19 MiB, 2 passes): about a second in a browser's wasm.
pub const M_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
pub const MIN_PASSPHRASE_CHARS: usize = 10;

/// The stored form. The parameters travel with it, so they can be raised later.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    pub kdf: String,
    pub m_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    pub salt: String,
    pub nonce: String,
    pub ciphertext: String,
}

fn kek(passphrase: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| CryptoError::Encoding { what: "key derivation parameters", message: e.to_string() })?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|e| CryptoError::Encoding { what: "key derivation", message: e.to_string() })?;
    Ok(out)
}

/// Seals `secret`; `context` (the public key) is bound in so a sealed secret cannot be swapped.
pub fn seal_secret(secret: &[u8], passphrase: &str, context: &[u8]) -> Result<SealedSecret, CryptoError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(CryptoError::Encoding { what: "passphrase", message: format!("use at least {MIN_PASSPHRASE_CHARS} characters") });
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|_| CryptoError::Random)?;
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    let k = kek(passphrase, &salt, M_KIB, T_COST, P_COST)?;
    let ct = Aes256Gcm::new(k.as_ref().into())
        .encrypt((&nonce).into(), Payload { msg: secret, aad: context })
        .map_err(|_| CryptoError::Passphrase)?;
    Ok(SealedSecret {
        kdf: "argon2id".into(),
        m_kib: M_KIB,
        t_cost: T_COST,
        p_cost: P_COST,
        salt: b64(&salt),
        nonce: b64(&nonce),
        ciphertext: b64(&ct),
    })
}

pub fn open_secret(sealed: &SealedSecret, passphrase: &str, context: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.kdf != "argon2id" {
        return Err(CryptoError::Encoding { what: "key derivation", message: format!("unknown kdf {}", sealed.kdf) });
    }
    // Bounds so a tampered record cannot make the browser allocate gigabytes.
    if sealed.m_kib > 1024 * 1024 || sealed.t_cost > 16 || sealed.p_cost > 4 {
        return Err(CryptoError::Encoding { what: "key derivation parameters", message: "out of range".into() });
    }
    let nonce: [u8; 12] = unb64("nonce", &sealed.nonce)?
        .try_into()
        .map_err(|_| CryptoError::Encoding { what: "nonce", message: "expected 12 bytes".into() })?;
    let k = kek(passphrase, &unb64("salt", &sealed.salt)?, sealed.m_kib, sealed.t_cost, sealed.p_cost)?;
    let ct = unb64("sealed secret", &sealed.ciphertext)?;
    Aes256Gcm::new(k.as_ref().into())
        .decrypt((&nonce).into(), Payload { msg: &ct, aad: context })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Passphrase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_passphrase_and_context_only() {
        let sealed = seal_secret(&[5; 32], "correct horse battery", b"pk").unwrap();
        assert_eq!(open_secret(&sealed, "correct horse battery", b"pk").unwrap().as_slice(), &[5; 32]);
        assert_eq!(open_secret(&sealed, "correct horse batterY", b"pk").unwrap_err(), CryptoError::Passphrase);
        assert_eq!(open_secret(&sealed, "correct horse battery", b"pk2").unwrap_err(), CryptoError::Passphrase);
        assert!(seal_secret(&[5; 32], "short", b"pk").is_err());
    }
}
