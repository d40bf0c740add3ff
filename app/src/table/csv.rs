//! Delimited text: delimiter and header detection on top of the `csv` crate's reader.

use super::{infer::parse_number, Location, ParseOptions, RawCell, RawTable, TableError};

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Enough lines to tell the delimiter apart, small enough to try four times.
pub(crate) const SAMPLE_BYTES: usize = 64 * 1024;

pub(crate) fn reader(bytes: &[u8], delimiter: u8, flexible: bool) -> ::csv::Reader<&[u8]> {
    ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(flexible)
        .from_reader(bytes)
}

/// The delimiter that splits the sample into the most fields, the same number on every line.
pub(crate) fn detect_delimiter(bytes: &[u8]) -> u8 {
    let mut sample = &bytes[..bytes.len().min(SAMPLE_BYTES)];
    if sample.len() < bytes.len() {
        // Drop the partial last line so it cannot look inconsistent.
        if let Some(end) = sample.iter().rposition(|b| *b == b'\n') {
            sample = &sample[..end];
        }
    }
    let mut best = (b',', 1usize);
    for d in DELIMITERS {
        let mut widths = reader(sample, d, true).into_byte_records().map_while(Result::ok).map(|r| r.len());
        let Some(first) = widths.next() else { continue };
        if first > best.1 && widths.all(|w| w == first) {
            best = (d, first);
        }
    }
    best.0
}

/// A first row is a header when none of its cells is a number or empty; the person can override.
pub(crate) fn looks_like_header(first: &[String]) -> bool {
    first.iter().all(|c| !c.trim().is_empty() && parse_number(c).is_none())
}

pub(crate) fn parse(bytes: &[u8], options: &ParseOptions) -> Result<RawTable, TableError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let delimiter = detect_delimiter(bytes);
    let mut records = reader(bytes, delimiter, false).into_records();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in &mut records {
        let record = record.map_err(describe)?;
        // Blank lines between records carry no data.
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    let Some(first) = rows.first() else {
        return Err(TableError::Empty("the file is empty".into()));
    };
    let header = options.header.unwrap_or_else(|| looks_like_header(first));
    let names = if header {
        rows.remove(0)
    } else {
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    Ok(RawTable {
        names: super::unique_names(names),
        rows: rows.into_iter().map(|r| r.into_iter().map(RawCell::Text).collect()).collect(),
    })
}

pub(crate) fn describe(err: ::csv::Error) -> TableError {
    use ::csv::ErrorKind;
    match err.into_kind() {
        ErrorKind::UnequalLengths { pos, expected_len, len } => TableError::Invalid {
            at: Location::Line { line: pos.map_or(0, |p| p.line()), field: None },
            message: format!("expected {expected_len} fields like the first line, found {len}"),
        },
        ErrorKind::Utf8 { pos, err } => TableError::Invalid {
            at: Location::Line { line: pos.map_or(0, |p| p.line()), field: Some(err.field() as u64 + 1) },
            message: "the text is not UTF-8; save the file as UTF-8 and try again".into(),
        },
        other => TableError::Unreadable { format: "CSV".into(), message: format!("{other:?}") },
    }
}
