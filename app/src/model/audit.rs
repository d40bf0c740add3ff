//! Audit log entries as the API returns them. Each entry carries the hash of the one before
//! it, so a changed, removed or reordered entry breaks the chain (checked by `cipherfold audit verify`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1, 2, 3… with no gaps.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: String,
    /// User id, or `anonymous` before authentication.
    pub actor: String,
    /// Dotted verb, e.g. `auth.login`, `user.update_profile`.
    pub action: String,
    /// What the action was about: a user id, a username tried at login, a dataset id.
    pub target: String,
    /// The client's IP address.
    pub client: String,
    /// `ok`, or `denied: …` / `failed: …` with the reason.
    pub outcome: String,
    /// Hex SHA-256 of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash` and this entry's fields.
    pub hash: String,
    /// The actor's username, looked up when listed (not part of the hashed entry: names can
    /// change, the entry cannot); absent for `anonymous` or an account since removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// The target's name when it is an account, a dataset or a federation, looked up the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
}

/// Filters for `GET /api/audit`; every field is optional and they combine with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    /// Matches actions starting with this, so `auth.` finds every login and logout.
    pub action: Option<String>,
    /// `ok` for successes, `denied`/`failed` for the rest (prefix match).
    pub outcome: Option<String>,
    /// Newest first; at most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}
