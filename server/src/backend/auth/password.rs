//! Argon2id password hashing (RustCrypto `argon2`). Hashing is deliberately slow, so it runs
//! on the blocking pool, never on the async workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

use crate::backend::error::{Error, Result};
use app::model::ApiError;

/// OWASP's first recommended Argon2id configuration: 19 MiB, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("password hashing failed: {e}"))
}

pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(internal)
    })
    .await
    .map_err(internal)?
}

/// Verifies against `stored`, or against a throwaway hash when there is no account, so that
/// an unknown username takes as long to reject as a wrong password.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool> {
    let exists = stored.is_some();
    let stored = match stored {
        Some(s) => s,
        None => decoy().to_owned(),
    };
    let ok = tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(internal)?;
        Ok::<bool, ApiError>(hasher().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(internal)??;
    Ok(ok && exists)
}

fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        let secret = hex::encode(rand::random::<[u8; 16]>());
        hasher().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery".into()).await.unwrap();
        let b = hash("correct horse battery".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "salts must differ");
        assert!(verify("correct horse battery".into(), Some(a.clone())).await.unwrap());
        assert!(!verify("wrong horse battery".into(), Some(a)).await.unwrap());
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}
