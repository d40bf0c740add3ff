//! Tables and indexes, defined idempotently at every start. Unique indexes are the final word
//! on duplicates (two registrations racing on two nodes), not the checks before an insert.

use super::db::Db;
use crate::error::ServerError;

const SCHEMA: &str = r#"
DEFINE TABLE IF NOT EXISTS account SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON account TYPE string;
DEFINE FIELD IF NOT EXISTS username ON account TYPE string;
DEFINE FIELD IF NOT EXISTS email ON account TYPE string;
DEFINE FIELD IF NOT EXISTS password_hash ON account TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON account TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON account TYPE string;
DEFINE FIELD IF NOT EXISTS role ON account TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON account TYPE string;
DEFINE INDEX IF NOT EXISTS account_uid ON account FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS account_username ON account FIELDS username UNIQUE;
DEFINE INDEX IF NOT EXISTS account_email ON account FIELDS email UNIQUE;

DEFINE TABLE IF NOT EXISTS refresh_token SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS token_hash ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS family ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS expires_at ON refresh_token TYPE int;
DEFINE FIELD IF NOT EXISTS used ON refresh_token TYPE bool;
DEFINE FIELD IF NOT EXISTS revoked ON refresh_token TYPE bool;
DEFINE INDEX IF NOT EXISTS refresh_token_hash ON refresh_token FIELDS token_hash UNIQUE;
DEFINE INDEX IF NOT EXISTS refresh_token_family ON refresh_token FIELDS family;

DEFINE TABLE IF NOT EXISTS revoked_access SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS jti ON revoked_access TYPE string;
DEFINE FIELD IF NOT EXISTS expires_at ON revoked_access TYPE int;
DEFINE INDEX IF NOT EXISTS revoked_access_jti ON revoked_access FIELDS jti UNIQUE;

DEFINE TABLE IF NOT EXISTS audit SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS seq ON audit TYPE int;
DEFINE FIELD IF NOT EXISTS at ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS actor ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS action ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS target ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS client ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS outcome ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS prev_hash ON audit TYPE string;
DEFINE FIELD IF NOT EXISTS hash ON audit TYPE string;
DEFINE INDEX IF NOT EXISTS audit_seq ON audit FIELDS seq UNIQUE;

DEFINE TABLE IF NOT EXISTS owner_key SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS user_id ON owner_key TYPE string;
DEFINE FIELD IF NOT EXISTS public_key ON owner_key TYPE string;
DEFINE FIELD IF NOT EXISTS key_id ON owner_key TYPE string;
DEFINE FIELD IF NOT EXISTS sealed_secret ON owner_key TYPE string;
DEFINE FIELD IF NOT EXISTS created_at ON owner_key TYPE string;
DEFINE INDEX IF NOT EXISTS owner_key_user ON owner_key FIELDS user_id UNIQUE;

DEFINE TABLE IF NOT EXISTS dataset SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS name ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS owner_id ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS format ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS parse_options ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS schema ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS rows ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS plaintext_size ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS ciphertext_size ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS wrapped_keys ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS envelope_header ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS shared ON dataset TYPE bool;
DEFINE FIELD IF NOT EXISTS target ON dataset TYPE option<string>;
DEFINE FIELD OVERWRITE status ON dataset TYPE string ASSERT $value IN ["pending", "uploading", "ready"];
DEFINE FIELD IF NOT EXISTS created_at ON dataset TYPE string;
DEFINE FIELD IF NOT EXISTS created_ms ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS consent_at ON dataset TYPE option<string>;
DEFINE INDEX IF NOT EXISTS dataset_uid ON dataset FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS dataset_owner ON dataset FIELDS owner_id;
DEFINE INDEX IF NOT EXISTS dataset_area ON dataset FIELDS domain, subdomain;

DEFINE TABLE IF NOT EXISTS job SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON job TYPE string;
DEFINE FIELD IF NOT EXISTS owner_id ON job TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON job TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON job TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON job TYPE string;
DEFINE FIELD IF NOT EXISTS request ON job TYPE string;
DEFINE FIELD IF NOT EXISTS dataset_names ON job TYPE string;
DEFINE FIELD OVERWRITE status ON job TYPE string ASSERT $value IN ["queued", "running", "succeeded", "failed", "cancelled"];
DEFINE FIELD IF NOT EXISTS progress ON job TYPE float;
DEFINE FIELD IF NOT EXISTS attempts ON job TYPE int;
DEFINE FIELD IF NOT EXISTS lease_owner ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS lease_until ON job TYPE int;
DEFINE FIELD IF NOT EXISTS cancel_requested ON job TYPE bool;
DEFINE FIELD IF NOT EXISTS metrics ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS error ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS model_id ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS next_seq ON job TYPE int;
DEFINE FIELD IF NOT EXISTS created_at ON job TYPE string;
DEFINE FIELD IF NOT EXISTS created_ms ON job TYPE int;
DEFINE FIELD IF NOT EXISTS started_at ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS finished_at ON job TYPE option<string>;
DEFINE INDEX IF NOT EXISTS job_uid ON job FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS job_owner ON job FIELDS owner_id;
DEFINE INDEX IF NOT EXISTS job_status ON job FIELDS status;

DEFINE TABLE IF NOT EXISTS job_event SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS job ON job_event TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON job_event TYPE int;
DEFINE FIELD IF NOT EXISTS at ON job_event TYPE string;
DEFINE FIELD IF NOT EXISTS event ON job_event TYPE string;
DEFINE INDEX IF NOT EXISTS job_event_seq ON job_event FIELDS job, seq UNIQUE;

DEFINE TABLE IF NOT EXISTS model SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON model TYPE string;
DEFINE FIELD IF NOT EXISTS job_id ON model TYPE string;
DEFINE FIELD IF NOT EXISTS owner_id ON model TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON model TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON model TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON model TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON model TYPE string;
DEFINE FIELD IF NOT EXISTS target ON model TYPE string;
DEFINE FIELD IF NOT EXISTS summary ON model TYPE string;
DEFINE FIELD IF NOT EXISTS wrapped_key ON model TYPE string;
DEFINE FIELD IF NOT EXISTS size ON model TYPE int;
DEFINE FIELD IF NOT EXISTS created_at ON model TYPE string;
DEFINE FIELD IF NOT EXISTS created_ms ON model TYPE int;
DEFINE INDEX IF NOT EXISTS model_uid ON model FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS model_owner ON model FIELDS owner_id;
"#;

pub async fn apply(db: &Db) -> Result<(), ServerError> {
    db.query(SCHEMA)
        .await
        .and_then(|r| r.check())
        .map_err(|e| ServerError::Database { endpoint: "schema".into(), reason: e.to_string() })?;
    Ok(())
}
