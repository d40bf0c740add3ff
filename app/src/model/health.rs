//! The body of `GET /api/health`.

use serde::{Deserialize, Serialize};

/// The state of one part the server depends on. Serialised as `"ok"` or as the error text,
/// so that an operator reading the JSON sees what is wrong without a lookup table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ComponentStatus {
    Ok,
    Failed(String),
}

impl ComponentStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, ComponentStatus::Ok)
    }
}

impl Serialize for ComponentStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ComponentStatus::Ok => s.serialize_str("ok"),
            ComponentStatus::Failed(e) => s.serialize_str(&format!("error: {e}")),
        }
    }
}

impl<'de> Deserialize<'de> for ComponentStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "ok" => ComponentStatus::Ok,
            other => ComponentStatus::Failed(other.strip_prefix("error: ").unwrap_or(other).to_owned()),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// `"ok"` when every part is, `"degraded"` otherwise.
    pub status: String,
    pub db: ComponentStatus,
    pub store: ComponentStatus,
    pub version: String,
}

impl HealthReport {
    pub fn new(db: ComponentStatus, store: ComponentStatus) -> Self {
        let status = if db.is_ok() && store.is_ok() { "ok" } else { "degraded" };
        HealthReport { status: status.to_owned(), db, store, version: crate::VERSION.to_owned() }
    }

    pub fn is_ok(&self) -> bool {
        self.db.is_ok() && self.store.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_report_serialises_to_the_documented_shape() {
        let r = HealthReport::new(ComponentStatus::Ok, ComponentStatus::Ok);
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v, serde_json::json!({"status":"ok","db":"ok","store":"ok","version": crate::VERSION}));
    }

    #[test]
    fn failed_part_is_named_and_round_trips() {
        let r = HealthReport::new(ComponentStatus::Ok, ComponentStatus::Failed("disk full".into()));
        assert!(!r.is_ok());
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""store":"error: disk full""#), "{json}");
        assert!(json.contains(r#""status":"degraded""#), "{json}");
        let back: HealthReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
