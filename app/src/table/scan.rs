//! Reading a CSV file in pieces, for the browser: a 1 GB file is validated, typed and
//! summarised without holding it (or its rows) in memory. The result is exactly what
//! [`Table::parse`] followed by [`Table::summaries`] gives, which the tests check, because the
//! trainer parses the whole file again after opening it and compares the schema.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::csv::{describe, detect_delimiter, looks_like_header, reader, SAMPLE_BYTES};
use super::infer::{convert, is_missing_text, parse_bool, parse_number};
use super::{Cell, Column, ColumnKind, ColumnStats, ColumnSummary, Format, Location, ParseOptions, RawCell, TableError};

/// Rows kept for the preview.
pub const PREVIEW_ROWS: usize = 20;
/// Distinct categories counted per column; beyond this the summary counts only these.
const MAX_CATEGORIES: usize = 100_000;

/// What the upload page shows and declares: schema, row count, first rows, summaries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scan {
    pub format: Format,
    pub parse_options: ParseOptions,
    pub columns: Vec<Column>,
    pub rows: usize,
    pub preview: Vec<Vec<Cell>>,
    pub summaries: Vec<ColumnSummary>,
}

impl Scan {
    /// The same summary of an already parsed table (JSON and Excel files, read whole).
    pub fn of_table(table: &super::Table, format: Format, parse_options: ParseOptions) -> Scan {
        Scan {
            format,
            parse_options,
            columns: table.columns.clone(),
            rows: table.rows.len(),
            preview: table.rows.iter().take(PREVIEW_ROWS).cloned().collect(),
            summaries: table.summaries(),
        }
    }
}

#[derive(Default)]
struct ColumnAcc {
    missing: usize,
    not_bool: bool,
    not_num: bool,
    n: usize,
    min: f64,
    max: f64,
    sum: f64,
    trues: usize,
    falses: usize,
    categories: HashMap<String, usize>,
}

impl ColumnAcc {
    fn add(&mut self, raw: &str) {
        if is_missing_text(raw) {
            self.missing += 1;
            return;
        }
        let text = raw.trim();
        match parse_number(text) {
            Some(x) => {
                self.min = if self.n == 0 { x } else { self.min.min(x) };
                self.max = if self.n == 0 { x } else { self.max.max(x) };
                self.sum += x;
                self.n += 1;
            }
            None => self.not_num = true,
        }
        match parse_bool(text) {
            Some(true) => self.trues += 1,
            Some(false) => self.falses += 1,
            None => self.not_bool = true,
        }
        if let Some(c) = self.categories.get_mut(text) {
            *c += 1;
        } else if self.categories.len() < MAX_CATEGORIES {
            self.categories.insert(text.to_owned(), 1);
        }
    }

    fn kind(&self) -> ColumnKind {
        if !self.not_num {
            ColumnKind::Numeric
        } else if !self.not_bool {
            ColumnKind::Boolean
        } else {
            ColumnKind::Categorical
        }
    }

    fn summary(self, name: String) -> ColumnSummary {
        let kind = self.kind();
        let stats = match kind {
            ColumnKind::Numeric => {
                let some = |x: f64| (self.n > 0).then_some(x);
                ColumnStats::Numeric { min: some(self.min), max: some(self.max), mean: some(self.sum / self.n.max(1) as f64) }
            }
            ColumnKind::Boolean => ColumnStats::Boolean { true_count: self.trues, false_count: self.falses },
            ColumnKind::Categorical => {
                let distinct = self.categories.len();
                let mut top: Vec<(String, usize)> = self.categories.into_iter().collect();
                top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                top.truncate(5);
                ColumnStats::Categorical { distinct, top }
            }
        };
        ColumnSummary { name, kind, missing: self.missing, stats }
    }
}

/// Push bytes in any pieces, then [`CsvScanner::finish`].
pub struct CsvScanner {
    options: ParseOptions,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for a record boundary, and the quote state there.
    searched: usize,
    in_quotes: bool,
    /// The last record boundary found in `buf` (just after a newline outside quotes).
    boundary: usize,
    delimiter: Option<u8>,
    lines_before: u64,
    started: bool,
    width: usize,
    names: Vec<String>,
    columns: Vec<ColumnAcc>,
    preview: Vec<Vec<String>>,
    rows: usize,
}

impl CsvScanner {
    pub fn new(options: ParseOptions) -> CsvScanner {
        CsvScanner {
            options,
            buf: Vec::new(),
            searched: 0,
            in_quotes: false,
            boundary: 0,
            delimiter: None,
            lines_before: 0,
            started: false,
            width: 0,
            names: Vec::new(),
            columns: Vec::new(),
            preview: Vec::new(),
            rows: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), TableError> {
        self.buf.extend_from_slice(bytes);
        if self.delimiter.is_none() {
            // Nothing is consumed until the delimiter is known from a full sample.
            if self.buf.len() < SAMPLE_BYTES + 3 {
                return Ok(());
            }
            self.begin();
        }
        // A newline outside quotes ends a record (a doubled quote toggles twice, so it cancels).
        for (i, b) in self.buf[self.searched..].iter().enumerate() {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.boundary = self.searched + i + 1,
                _ => {}
            }
        }
        self.searched = self.buf.len();
        if self.boundary > 0 {
            let block: Vec<u8> = self.buf.drain(..self.boundary).collect();
            self.searched -= self.boundary;
            self.boundary = 0;
            self.records(&block)?;
            self.lines_before += block.iter().filter(|b| **b == b'\n').count() as u64;
        }
        Ok(())
    }

    /// Strips a UTF-8 byte-order mark and picks the delimiter, as the whole-file parser does.
    fn begin(&mut self) {
        if self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        self.delimiter = Some(detect_delimiter(&self.buf));
    }

    fn records(&mut self, block: &[u8]) -> Result<(), TableError> {
        let delimiter = self.delimiter.unwrap_or(b',');
        for record in reader(block, delimiter, true).into_records() {
            let record = record.map_err(|e| shift(describe(e), self.lines_before))?;
            let line = record.position().map_or(0, |p| p.line()) + self.lines_before;
            if !self.started {
                self.started = true;
                self.width = record.len();
                let first: Vec<String> = record.iter().map(str::to_owned).collect();
                let header = self.options.header.unwrap_or_else(|| looks_like_header(&first));
                self.columns = (0..self.width).map(|_| ColumnAcc::default()).collect();
                if header {
                    self.names = super::unique_names(first);
                    continue;
                }
                self.names = (1..=self.width).map(|i| format!("column_{i}")).collect();
            } else if record.len() != self.width {
                return Err(TableError::Invalid {
                    at: Location::Line { line, field: None },
                    message: format!("expected {} fields like the first line, found {}", self.width, record.len()),
                });
            }
            if record.len() == 1 && record[0].trim().is_empty() {
                continue;
            }
            for (acc, value) in self.columns.iter_mut().zip(record.iter()) {
                acc.add(value);
            }
            if self.preview.len() < PREVIEW_ROWS {
                self.preview.push(record.iter().map(str::to_owned).collect());
            }
            self.rows += 1;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Scan, TableError> {
        if self.delimiter.is_none() {
            self.begin();
        }
        let rest = std::mem::take(&mut self.buf);
        self.records(&rest)?;
        if !self.started {
            return Err(TableError::Empty("the file is empty".into()));
        }
        if self.rows == 0 {
            return Err(TableError::Empty("there is a header but no rows under it".into()));
        }
        let kinds: Vec<ColumnKind> = self.columns.iter().map(ColumnAcc::kind).collect();
        let preview = self
            .preview
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&kinds)
                    .map(|(v, k)| if is_missing_text(&v) { Cell::Missing } else { convert(RawCell::Text(v), *k) })
                    .collect()
            })
            .collect();
        let columns = self.names.iter().zip(&kinds).map(|(name, kind)| Column { name: name.clone(), kind: *kind }).collect();
        let summaries = self.columns.into_iter().zip(self.names).map(|(acc, name)| acc.summary(name)).collect();
        Ok(Scan { format: Format::Csv, parse_options: self.options, columns, rows: self.rows, preview, summaries })
    }
}

/// Errors from a block name lines within the block; add the lines before it.
fn shift(e: TableError, lines_before: u64) -> TableError {
    match e {
        TableError::Invalid { at: Location::Line { line, field }, message } => {
            TableError::Invalid { at: Location::Line { line: line + lines_before, field }, message }
        }
        other => other,
    }
}
