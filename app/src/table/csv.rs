//! Delimited text: delimiter and header detection on top of the `csv` crate's reader.

use super::infer::{is_missing_text, parse_number};
use super::{Location, ParseOptions, RawCell, RawTable, TableError};

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Enough lines to tell the delimiter apart, small enough to try four times.
pub(crate) const SAMPLE_BYTES: usize = 64 * 1024;

pub(crate) fn reader(bytes: &[u8], delimiter: u8, flexible: bool) -> ::csv::Reader<&[u8]> {
    ::csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(flexible).from_reader(bytes)
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

/// Reads every record. Numbers are parsed as they are read, so a numeric column costs no text
/// allocation (most of a training set); a column that turns out to hold text as well gets its
/// original spelling back from a second read (so "007" stays "007" in a categorical column).
/// Columns marked in `text_columns` (declared categorical) are read as text from the start.
pub(crate) fn parse(bytes: &[u8], options: &ParseOptions, text_columns: &[bool]) -> Result<RawTable, TableError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let delimiter = detect_delimiter(bytes);
    let blank = |r: &::csv::StringRecord| r.len() == 1 && r[0].trim().is_empty();
    let mut rdr = reader(bytes, delimiter, false);
    let mut record = ::csv::StringRecord::new();
    let mut first: Option<Vec<String>> = None;
    let mut rows: Vec<Vec<RawCell>> = Vec::new();
    // Per column: still all numbers (or missing) so far; held a number before text appeared.
    let mut numeric: Vec<bool> = Vec::new();
    let mut seen_number: Vec<bool> = Vec::new();
    let mut mixed: Vec<bool> = Vec::new();
    while rdr.read_record(&mut record).map_err(describe)? {
        if blank(&record) {
            continue;
        }
        if first.is_none() {
            first = Some(record.iter().map(str::to_string).collect());
            // A column declared categorical stays text as written (`007` is not `7`).
            numeric = (0..record.len()).map(|j| !text_columns.get(j).copied().unwrap_or(false)).collect();
            (seen_number, mixed) = (vec![false; record.len()], vec![false; record.len()]);
            continue;
        }
        let row = record
            .iter()
            .enumerate()
            .map(|(j, field)| {
                if numeric[j] {
                    if let Some(n) = parse_number(field) {
                        seen_number[j] = true;
                        return RawCell::Number(n);
                    }
                    if is_missing_text(field) {
                        return RawCell::Missing;
                    }
                    numeric[j] = false;
                    mixed[j] = seen_number[j];
                }
                RawCell::Text(field.to_string())
            })
            .collect();
        rows.push(row);
    }
    let Some(first) = first else {
        return Err(TableError::Empty("the file is empty".into()));
    };
    if mixed.iter().any(|m| *m) {
        let mut rdr = reader(bytes, delimiter, false);
        let mut i = 0;
        let mut past_first = false;
        while rdr.read_record(&mut record).map_err(describe)? {
            if blank(&record) {
                continue;
            }
            if !past_first {
                past_first = true;
                continue;
            }
            for (j, field) in record.iter().enumerate() {
                if mixed[j] {
                    if let RawCell::Number(_) = rows[i][j] {
                        rows[i][j] = RawCell::Text(field.to_string());
                    }
                }
            }
            i += 1;
        }
    }
    let header = options.header.unwrap_or_else(|| looks_like_header(&first));
    let names = if header {
        first
    } else {
        rows.insert(0, first.iter().cloned().map(RawCell::Text).collect());
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    Ok(RawTable { names: super::unique_names(names), rows })
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
