//! Wrapping a dataset's data key to a recipient with HPKE (RFC 9180, base mode):
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. The `hpke` crate does the protocol;
//! this module fixes the suite, the `info` string and the associated data (the dataset id).

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{b64, key_id, unb64, CryptoError, DataKey};

/// Context string of every wrap; a different use of the same keys would use another.
pub const WRAP_INFO: &[u8] = b"cipherfold/dataset-key/v1";
/// How the suite is named on the wire and in `GET /api/keys/trainer`.
pub const SUITE: &str = "HPKE-base/X25519-HKDF-SHA256/HKDF-SHA256/AES-256-GCM";

type Kem = X25519HkdfSha256;

/// Who a wrapped key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    Trainer,
    Owner,
}

/// One wrapping of a data key: the HPKE encapsulated key and the sealed 32 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    pub recipient: Recipient,
    /// `key_id` of the recipient's public key, so a rotated key is noticed instead of failing obscurely.
    pub key_id: String,
    /// Base64 of the 32-byte encapsulated X25519 public key.
    pub enc: String,
    /// Base64 of AES-256-GCM(data key) with its tag: 48 bytes.
    pub ciphertext: String,
}

/// An X25519 key pair; the secret half is zeroed on drop.
pub struct KeyPair {
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl KeyPair {
    pub fn generate() -> Result<KeyPair, CryptoError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| CryptoError::Random)?;
        KeyPair::from_secret(&secret[..])
    }

    pub fn from_secret(secret: &[u8]) -> Result<KeyPair, CryptoError> {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret)
            .map_err(|_| CryptoError::Encoding { what: "private key", message: "expected 32 bytes".into() })?;
        let public: [u8; 32] = Kem::sk_to_pk(&sk).to_bytes().into();
        let mut s = Zeroizing::new([0u8; 32]);
        s.copy_from_slice(secret);
        Ok(KeyPair { secret: s, public })
    }

    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public)
    }
}

/// Wraps `key` to `recipient_public` for dataset `dataset_id`.
pub fn wrap(key: &DataKey, recipient_public: &[u8], dataset_id: &[u8; 16], recipient: Recipient) -> Result<WrappedKey, CryptoError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient_public)
        .map_err(|_| CryptoError::Encoding { what: "public key", message: "expected 32 bytes".into() })?;
    let mut rng = rand_core::UnwrapErr(rand_core::OsRng);
    let (enc, ciphertext) =
        hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem, _>(&OpModeS::Base, &pk, WRAP_INFO, key.as_bytes(), dataset_id, &mut rng)
            .map_err(|_| CryptoError::Random)?;
    Ok(WrappedKey { recipient, key_id: key_id(recipient_public), enc: b64(&enc.to_bytes()), ciphertext: b64(&ciphertext) })
}

/// Unwraps a data key with the recipient's key pair; fails on any change to `wrapped` or the id.
pub fn unwrap(wrapped: &WrappedKey, keys: &KeyPair, dataset_id: &[u8; 16]) -> Result<DataKey, CryptoError> {
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(keys.secret()).map_err(|_| CryptoError::Unwrap)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&unb64("encapsulated key", &wrapped.enc)?).map_err(|_| CryptoError::Unwrap)?;
    let ct = unb64("wrapped key", &wrapped.ciphertext)?;
    let plain = hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(&OpModeR::Base, &sk, &enc, WRAP_INFO, &ct, dataset_id)
        .map_err(|_| CryptoError::Unwrap)?;
    let plain = Zeroizing::new(plain);
    DataKey::from_bytes(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_unwraps_for_the_right_recipient_and_dataset_only() {
        let trainer = KeyPair::generate().unwrap();
        let other = KeyPair::generate().unwrap();
        let key = DataKey::generate().unwrap();
        let w = wrap(&key, trainer.public(), &[1; 16], Recipient::Trainer).unwrap();
        assert_eq!(w.key_id, trainer.key_id());
        assert_eq!(unwrap(&w, &trainer, &[1; 16]).unwrap().as_bytes(), key.as_bytes());
        assert_eq!(unwrap(&w, &other, &[1; 16]).unwrap_err(), CryptoError::Unwrap);
        assert_eq!(unwrap(&w, &trainer, &[2; 16]).unwrap_err(), CryptoError::Unwrap);
        let mut bad = w.clone();
        bad.enc = b64(&[0u8; 32]);
        assert_eq!(unwrap(&bad, &trainer, &[1; 16]).unwrap_err(), CryptoError::Unwrap);
    }

    /// RFC 9180 A.1's recipient key pair: the KEM's public key derivation is the standard X25519.
    #[test]
    fn kem_public_key_matches_rfc_9180_a1() {
        let sk = hex::decode("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8").unwrap();
        let kp = KeyPair::from_secret(&sk).unwrap();
        assert_eq!(hex::encode(kp.public()), "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d");
    }
}
