//! Small helpers the backend modules share: ids, clocks, hashing, database error mapping.

use sha2::{Digest, Sha256};

/// 128 random bits as 32 hex characters: ids and token ids nobody can guess.
pub fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds: fine enough to order records created one after another ("newest first").
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Whole seconds: what a person reading the log needs, and stable across formatters.
pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// `t` in RFC 3339, whole seconds, UTC: such strings sort in time order.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Milliseconds, always three digits, UTC (`2026-11-30T21:04:05.123Z`): job events come
/// several a second, and fixed-width strings still sort in time order.
pub fn now_rfc3339_ms() -> String {
    let t = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.format(&format).unwrap_or_else(|_| rfc3339(t))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}
