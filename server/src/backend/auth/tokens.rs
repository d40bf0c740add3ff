//! Access tokens (HS256 JWTs, 15 minutes) and refresh tokens (random, stored hashed).

use std::path::Path;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use app::model::auth::Role;
use app::model::ApiError;

use crate::backend::error::{Error, Result};
use crate::backend::util::{now_unix, random_id};
use crate::error::ServerError;

pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_SECS: i64 = 14 * 24 * 60 * 60;
pub const KEY_FILE: &str = "keys/jwt-hs256.hex";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub role: Role,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        TokenKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    /// The key from `CIPHERFOLD_JWT_SECRET` (hex, at least 32 bytes), else from the data
    /// directory, else a new random one written there with mode 0600.
    pub fn load(data_dir: &Path, from_env: Option<&str>) -> Result<Self, ServerError> {
        let secret = crate::backend::keyfile::load_or_create(
            data_dir,
            KEY_FILE,
            from_env,
            "CIPHERFOLD_JWT_SECRET",
            "token signing key (at least 32 bytes)",
            |k| k.len() >= 32,
            || zeroize::Zeroizing::new(rand::random::<[u8; 32]>().to_vec()),
        )?;
        Ok(Self::from_secret(&secret.bytes))
    }

    pub fn issue(&self, user_id: &str, role: Role) -> Result<(String, Claims)> {
        let now = now_unix();
        let claims = Claims { sub: user_id.to_owned(), iat: now, exp: now + ACCESS_TTL_SECS, jti: random_id(), role };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::internal(format!("token signing failed: {e}")))?;
        Ok((token, claims))
    }

    /// Checks signature (HS256 only: `alg: none` and every other algorithm are refused) and
    /// expiry, with no leeway. Whether the user still exists is the caller's check.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "iat", "sub", "jti"]);
        decode::<Claims>(token, &self.decoding, &v).map(|d| d.claims).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthorized("your session has expired; log in again"),
                _ => ApiError::unauthorized("the access token is not valid; log in again"),
            }
        })
    }
}

/// A refresh token: what the client holds, and the hash we store.
pub fn new_refresh_token() -> (String, String) {
    let token = hex::encode(rand::random::<[u8; 32]>());
    let hash = crate::backend::util::sha256_hex(token.as_bytes());
    (token, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKeys::load(dir.path(), None).unwrap();
        let (tok, claims) = a.issue("u1", Role::User).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let b = TokenKeys::load(dir.path(), None).unwrap();
        assert_eq!(b.verify(&tok).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, ACCESS_TTL_SECS);
    }

    #[test]
    fn a_short_env_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TokenKeys::load(dir.path(), Some("abcd")).is_err());
        assert!(TokenKeys::load(dir.path(), Some(&"ab".repeat(32))).is_ok());
    }
}
