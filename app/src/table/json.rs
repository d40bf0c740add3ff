//! JSON: an array of flat records, or JSON Lines (one record per line).

use serde_json::{Map, Value};

use super::{Cell, Location, RawTable, TableError};

pub(crate) fn parse(bytes: &[u8]) -> Result<RawTable, TableError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let records: Vec<(Location, Value)> = match first {
        None => return Err(TableError::Empty("the file is empty".into())),
        Some(b'[') => {
            let values: Vec<Value> = serde_json::from_slice(bytes).map_err(|e| TableError::Invalid {
                at: Location::Line { line: e.line() as u64, field: Some(e.column() as u64) },
                message: format!("not valid JSON: {}", strip_position(&e)),
            })?;
            values.into_iter().enumerate().map(|(i, v)| (Location::Record { record: i as u64 + 1, key: None }, v)).collect()
        }
        Some(b'{') => lines(bytes)?,
        Some(_) => {
            return Err(TableError::Unreadable {
                format: "JSON".into(),
                message: "expected an array of records ([{…}, …]) or one record per line ({…})".into(),
            })
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut objects: Vec<(Location, Map<String, Value>)> = Vec::with_capacity(records.len());
    for (at, value) in records {
        let Value::Object(map) = value else {
            return Err(TableError::Invalid { at, message: format!("expected a record ({{…}}), found {}", kind(&value)) });
        };
        for key in map.keys() {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
        objects.push((at, map));
    }
    let mut rows = Vec::with_capacity(objects.len());
    for (at, mut map) in objects {
        let mut row = Vec::with_capacity(names.len());
        for name in &names {
            row.push(match map.remove(name) {
                None | Some(Value::Null) => Cell::Missing,
                Some(Value::Bool(b)) => Cell::Bool(b),
                Some(Value::Number(n)) => n.as_f64().map_or(Cell::Missing, Cell::Number),
                Some(Value::String(s)) => Cell::Text(s),
                Some(other) => {
                    let at = match at {
                        Location::Record { record, .. } => Location::Record { record, key: Some(name.clone()) },
                        line => line,
                    };
                    return Err(TableError::Invalid {
                        at,
                        message: format!("expected a number, string, boolean or null, found {}", kind(&other)),
                    });
                }
            });
        }
        rows.push(row);
    }
    Ok(RawTable::from_rows(super::unique_names(names), rows))
}

fn lines(bytes: &[u8]) -> Result<Vec<(Location, Value)>, TableError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = Location::Line { line: i as u64 + 1, field: None };
        let value = serde_json::from_slice(line).map_err(|e| TableError::Invalid {
            at: Location::Line { line: i as u64 + 1, field: Some(e.column() as u64) },
            message: format!("not valid JSON: {}", strip_position(&e)),
        })?;
        out.push((at, value));
    }
    Ok(out)
}

/// serde_json appends "at line L column C"; the location already says that.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
