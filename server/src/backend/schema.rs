//! Tables and indexes, defined idempotently at every start. Unique indexes are the final word
//! on duplicates (two registrations racing on two nodes), not the checks before an insert.
//! Nested values (a dataset's schema, a job's request, an event) are objects and arrays the
//! database can read into (`request.dataset_ids`), not JSON text; a database written by an
//! earlier version, which stored them as text, is converted once at start (`JSON_TEXT_FIELDS`).

use surrealdb::types::SurrealValue;

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
-- One row at most: the claim of the install's first account to be admin. The unique index makes
-- "the first user is admin" hold when the first two registrations reach two nodes at once.
DEFINE TABLE IF NOT EXISTS first_admin SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS slot ON first_admin TYPE int;
DEFINE FIELD IF NOT EXISTS uid ON first_admin TYPE string;
DEFINE INDEX IF NOT EXISTS first_admin_slot ON first_admin FIELDS slot UNIQUE;

DEFINE TABLE IF NOT EXISTS refresh_token SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS token_hash ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS family ON refresh_token TYPE string;
DEFINE FIELD IF NOT EXISTS expires_at ON refresh_token TYPE int;
DEFINE FIELD IF NOT EXISTS used ON refresh_token TYPE bool;
DEFINE FIELD IF NOT EXISTS revoked ON refresh_token TYPE bool;
DEFINE FIELD IF NOT EXISTS used_at ON refresh_token TYPE option<int>;
DEFINE FIELD IF NOT EXISTS used_by ON refresh_token TYPE option<string>;
DEFINE INDEX IF NOT EXISTS refresh_token_hash ON refresh_token FIELDS token_hash UNIQUE;
DEFINE INDEX IF NOT EXISTS refresh_token_family ON refresh_token FIELDS family;

DEFINE TABLE IF NOT EXISTS login_limit SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS key ON login_limit TYPE string;
DEFINE FIELD IF NOT EXISTS tat ON login_limit TYPE int;
DEFINE INDEX IF NOT EXISTS login_limit_key ON login_limit FIELDS key UNIQUE;

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
DEFINE FIELD OVERWRITE sealed_secret ON owner_key TYPE object FLEXIBLE;
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
DEFINE FIELD OVERWRITE parse_options ON dataset TYPE object FLEXIBLE;
DEFINE FIELD OVERWRITE schema ON dataset TYPE array<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS rows ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS plaintext_size ON dataset TYPE int;
DEFINE FIELD IF NOT EXISTS ciphertext_size ON dataset TYPE int;
DEFINE FIELD OVERWRITE wrapped_keys ON dataset TYPE array<object> FLEXIBLE;
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
DEFINE FIELD OVERWRITE request ON job TYPE object FLEXIBLE;
DEFINE FIELD OVERWRITE dataset_names ON job TYPE array<string>;
DEFINE FIELD OVERWRITE status ON job TYPE string ASSERT $value IN ["queued", "running", "succeeded", "failed", "cancelled"];
DEFINE FIELD IF NOT EXISTS progress ON job TYPE float;
DEFINE FIELD IF NOT EXISTS attempts ON job TYPE int;
DEFINE FIELD IF NOT EXISTS lease_owner ON job TYPE option<string>;
DEFINE FIELD IF NOT EXISTS lease_until ON job TYPE int;
DEFINE FIELD IF NOT EXISTS cancel_requested ON job TYPE bool;
DEFINE FIELD OVERWRITE metrics ON job TYPE option<object> FLEXIBLE;
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
DEFINE FIELD OVERWRITE event ON job_event TYPE object FLEXIBLE;
DEFINE INDEX IF NOT EXISTS job_event_seq ON job_event FIELDS job, seq UNIQUE;

DEFINE TABLE IF NOT EXISTS federation SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS name ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS owner_id ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON federation TYPE string;
DEFINE FIELD OVERWRITE task ON federation TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS rounds ON federation TYPE int;
DEFINE FIELD IF NOT EXISTS min_participants ON federation TYPE int;
DEFINE FIELD IF NOT EXISTS threshold ON federation TYPE int;
DEFINE FIELD IF NOT EXISTS round_timeout_secs ON federation TYPE int;
DEFINE FIELD OVERWRITE status ON federation TYPE string ASSERT $value IN ["open", "running", "finished", "failed"];
DEFINE FIELD IF NOT EXISTS created_at ON federation TYPE string;
DEFINE FIELD IF NOT EXISTS created_ms ON federation TYPE int;
DEFINE INDEX IF NOT EXISTS federation_uid ON federation FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS federation_area ON federation FIELDS domain, subdomain;

DEFINE TABLE IF NOT EXISTS federation_member SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS federation ON federation_member TYPE string;
DEFINE FIELD IF NOT EXISTS user_id ON federation_member TYPE string;
DEFINE FIELD IF NOT EXISTS joined_at ON federation_member TYPE string;
DEFINE FIELD IF NOT EXISTS next_round ON federation TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS next_seq ON federation TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS abandoned ON federation TYPE int DEFAULT 0;
DEFINE FIELD IF NOT EXISTS means ON federation TYPE option<array<float>>;
DEFINE FIELD IF NOT EXISTS params ON federation TYPE option<array<float>>;
DEFINE FIELD IF NOT EXISTS model_id ON federation TYPE option<string>;
DEFINE FIELD IF NOT EXISTS failure ON federation TYPE option<string>;
DEFINE FIELD IF NOT EXISTS dp_rounds ON federation TYPE option<int>;
DEFINE INDEX IF NOT EXISTS federation_member_pair ON federation_member FIELDS federation, user_id UNIQUE;
DEFINE FIELD IF NOT EXISTS number ON federation_member TYPE int DEFAULT 0;
DEFINE INDEX IF NOT EXISTS federation_member_number ON federation_member FIELDS federation, number UNIQUE;

DEFINE TABLE IF NOT EXISTS fl_round SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS federation ON fl_round TYPE string;
DEFINE FIELD IF NOT EXISTS round ON fl_round TYPE int;
DEFINE FIELD OVERWRITE phase ON fl_round TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS stage ON fl_round TYPE string ASSERT $value IN ["keys", "shares", "input", "reveal"];
DEFINE FIELD IF NOT EXISTS state ON fl_round TYPE string ASSERT $value IN ["open", "done", "abandoned"];
DEFINE FIELD IF NOT EXISTS opened_ms ON fl_round TYPE int;
DEFINE FIELD IF NOT EXISTS deadline_ms ON fl_round TYPE int;
DEFINE FIELD OVERWRITE roster ON fl_round TYPE array<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS sharers ON fl_round TYPE array<int>;
DEFINE FIELD IF NOT EXISTS survivors ON fl_round TYPE array<int>;
DEFINE FIELD IF NOT EXISTS dropped ON fl_round TYPE array<int>;
DEFINE FIELD IF NOT EXISTS sampled ON fl_round TYPE option<array<int>>;
DEFINE FIELD IF NOT EXISTS population ON fl_round TYPE option<int>;
DEFINE INDEX IF NOT EXISTS fl_round_once ON fl_round FIELDS federation, round UNIQUE;
DEFINE INDEX IF NOT EXISTS fl_round_state ON fl_round FIELDS state;

DEFINE TABLE IF NOT EXISTS fl_message SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS federation ON fl_message TYPE string;
DEFINE FIELD IF NOT EXISTS round ON fl_message TYPE int;
DEFINE FIELD IF NOT EXISTS stage ON fl_message TYPE string;
DEFINE FIELD IF NOT EXISTS sender ON fl_message TYPE int;
DEFINE FIELD IF NOT EXISTS body ON fl_message TYPE string;
DEFINE FIELD IF NOT EXISTS at_ms ON fl_message TYPE int;
DEFINE INDEX IF NOT EXISTS fl_message_once ON fl_message FIELDS federation, round, stage, sender UNIQUE;

DEFINE TABLE IF NOT EXISTS fl_result SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS federation ON fl_result TYPE string;
DEFINE FIELD IF NOT EXISTS round ON fl_result TYPE int;
DEFINE FIELD OVERWRITE phase ON fl_result TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS participants ON fl_result TYPE int;
DEFINE FIELD IF NOT EXISTS rows ON fl_result TYPE int;
DEFINE FIELD OVERWRITE metrics ON fl_result TYPE option<object> FLEXIBLE;
DEFINE FIELD IF NOT EXISTS at ON fl_result TYPE string;
DEFINE FIELD IF NOT EXISTS contributors ON fl_result TYPE option<array<int>>;
DEFINE FIELD IF NOT EXISTS epsilon ON fl_result TYPE option<float>;
DEFINE INDEX IF NOT EXISTS fl_result_round ON fl_result FIELDS federation, round UNIQUE;

DEFINE TABLE IF NOT EXISTS federation_event SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS federation ON federation_event TYPE string;
DEFINE FIELD IF NOT EXISTS seq ON federation_event TYPE int;
DEFINE FIELD IF NOT EXISTS at ON federation_event TYPE string;
DEFINE FIELD OVERWRITE event ON federation_event TYPE object FLEXIBLE;
DEFINE INDEX IF NOT EXISTS federation_event_seq ON federation_event FIELDS federation, seq UNIQUE;

DEFINE TABLE IF NOT EXISTS model SCHEMAFULL;
DEFINE FIELD IF NOT EXISTS uid ON model TYPE string;
DEFINE FIELD IF NOT EXISTS job_id ON model TYPE string;
DEFINE FIELD IF NOT EXISTS owner_id ON model TYPE string;
DEFINE FIELD IF NOT EXISTS owner ON model TYPE string;
DEFINE FIELD IF NOT EXISTS domain ON model TYPE string;
DEFINE FIELD IF NOT EXISTS subdomain ON model TYPE string;
DEFINE FIELD IF NOT EXISTS kind ON model TYPE string;
DEFINE FIELD IF NOT EXISTS target ON model TYPE string;
DEFINE FIELD OVERWRITE summary ON model TYPE object FLEXIBLE;
DEFINE FIELD OVERWRITE wrapped_key ON model TYPE object FLEXIBLE;
DEFINE FIELD IF NOT EXISTS size ON model TYPE int;
DEFINE FIELD IF NOT EXISTS created_at ON model TYPE string;
DEFINE FIELD IF NOT EXISTS created_ms ON model TYPE int;
DEFINE INDEX IF NOT EXISTS model_uid ON model FIELDS uid UNIQUE;
DEFINE INDEX IF NOT EXISTS model_owner ON model FIELDS owner_id;
"#;

/// The fields earlier versions stored as JSON text, by table.
pub const JSON_TEXT_FIELDS: &[(&str, &str)] = &[
    ("owner_key", "sealed_secret"),
    ("dataset", "parse_options"),
    ("dataset", "schema"),
    ("dataset", "wrapped_keys"),
    ("job", "request"),
    ("job", "dataset_names"),
    ("job", "metrics"),
    ("job_event", "event"),
    ("model", "summary"),
    ("model", "wrapped_key"),
];

pub async fn apply(db: &Db) -> Result<(), ServerError> {
    let failed = |e: surrealdb::Error| ServerError::Database { endpoint: "schema".into(), reason: e.to_string() };
    // Converted before the definitions tighten: a record is checked whole on every write, so
    // a field still text would refuse the update of its neighbour once both must be objects.
    let converted = convert_json_text(db).await.map_err(failed)?;
    if converted > 0 {
        tracing::info!(converted, "stored JSON text converted to objects (a database from an earlier version)");
    }
    db.query(SCHEMA).await.and_then(|r| r.check()).map_err(failed)?;
    Ok(())
}

/// Rewrites every value of `JSON_TEXT_FIELDS` that is still text as the object or array it
/// encodes. Only a field whose definition still says `string` is scanned (the earlier
/// layout): once SCHEMA has defined it as an object, no text can be left, so a start of a
/// converted or new database reads the definitions only, not every event and job.
async fn convert_json_text(db: &Db) -> Result<usize, surrealdb::Error> {
    let mut converted = 0;
    // Only tables that exist: a new database has none yet, and selecting from one is an error.
    let info: Option<serde_json::Value> = db.query("INFO FOR DB").await?.take(0)?;
    let tables = info.as_ref().and_then(|i| i.get("tables")).and_then(serde_json::Value::as_object);
    for (table, field) in JSON_TEXT_FIELDS {
        if !tables.is_some_and(|t| t.contains_key(*table)) {
            continue;
        }
        let info: Option<serde_json::Value> = db.query(format!("INFO FOR TABLE {table}")).await?.take(0)?;
        let definition = info.as_ref().and_then(|i| i.get("fields")?.get(*field)?.as_str().map(str::to_owned)).unwrap_or_default();
        if !definition.contains("string") {
            continue;
        }
        let mut r = db.query(format!("SELECT id, {field} AS text FROM {table} WHERE type::is_string({field})")).await?;
        let rows: Vec<TextRow> = r.take(0)?;
        if rows.is_empty() {
            continue;
        }
        // The earlier definition says `TYPE string`; the final one follows in SCHEMA.
        db.query(format!("DEFINE FIELD OVERWRITE {field} ON {table} TYPE any")).await?.check()?;
        for row in rows {
            let value: serde_json::Value = match serde_json::from_str(&row.text) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(table, field, id = ?row.id, error = %e, "a stored value is neither an object nor JSON text; left as it is");
                    continue;
                }
            };
            db.query(format!("UPDATE $id SET {field} = $value")).bind(("id", row.id)).bind(("value", value)).await?.check()?;
            converted += 1;
        }
    }
    Ok(converted)
}

#[derive(Debug, SurrealValue)]
struct TextRow {
    id: surrealdb::types::RecordId,
    text: String,
}
