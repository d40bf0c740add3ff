//! Tabular files (CSV, JSON, Excel) to one [`Table`]: column names, inferred types, rows.
//!
//! The browser runs this to preview and validate a file before sealing it, and the trainer
//! runs the very same code after opening the envelope, so both sides agree on every cell.

mod csv;
pub mod file;
mod infer;
mod json;
pub mod scan;
mod summary;
mod xlsx;

use serde::{Deserialize, Serialize};

pub(crate) use infer::is_missing_text;
pub use summary::{ColumnStats, ColumnSummary};

/// The file formats a dataset may come in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
    Xlsx,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Csv, Format::Json, Format::Xlsx];

    /// Guesses the format from a file name's extension, as the upload page does.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            "xlsx" | "xlsm" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn parse_name(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// What a column holds, decided from every value in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Numeric,
    Categorical,
    Boolean,
}

impl ColumnKind {
    /// The name used on the wire (`numeric`, `categorical`, `boolean`).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::Numeric => "numeric",
            ColumnKind::Categorical => "categorical",
            ColumnKind::Boolean => "boolean",
        }
    }
}

/// A column's name and kind: the schema a dataset is stored and trained with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// One value. Serialised untagged (null, number, boolean, string) so previews read naturally.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Missing,
    Number(f64),
    Bool(bool),
    Text(String),
}

impl Cell {
    pub fn is_missing(&self) -> bool {
        matches!(self, Cell::Missing)
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Number(n) => Some(*n),
            _ => None,
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Missing => Ok(()),
            Cell::Number(n) => write!(f, "{n}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Text(s) => f.write_str(s),
        }
    }
}

/// A parsed file: every row has exactly one cell per column, of the column's kind or missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// Choices the person uploading can make; the defaults detect everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParseOptions {
    /// Excel: the sheet to read; the first sheet when absent.
    #[serde(default)]
    pub sheet: Option<String>,
    /// CSV: force or deny a header row; detected when absent.
    #[serde(default)]
    pub header: Option<bool>,
}

/// Where in a file a problem is, in the terms a person can find it by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// Text files: 1-based line, and field or column when known.
    Line { line: u64, field: Option<u64> },
    /// JSON arrays: 1-based record number and the key when the problem is a value.
    Record { record: u64, key: Option<String> },
    /// Excel: sheet and A1-style cell.
    Cell { sheet: String, cell: String },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line { line, field: Some(c) } => write!(f, "line {line}, field {c}"),
            Location::Line { line, field: None } => write!(f, "line {line}"),
            Location::Record { record, key: Some(k) } => write!(f, "record {record}, key “{k}”"),
            Location::Record { record, key: None } => write!(f, "record {record}"),
            Location::Cell { sheet, cell } => write!(f, "sheet “{sheet}”, cell {cell}"),
        }
    }
}

/// Why a file could not be read as a table. Every variant says where and what was expected.
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum TableError {
    #[error("{at}: {message}")]
    Invalid { at: Location, message: String },
    #[error("the file has no data rows: {0}")]
    Empty(String),
    #[error("the workbook has no sheet named “{name}”; its sheets are: {available}")]
    UnknownSheet { name: String, available: String },
    #[error("not a readable {format} file: {message}")]
    Unreadable { format: String, message: String },
    /// The file does not fit the schema it was declared with (`Table::parse_declared`).
    #[error("{message}")]
    Declaration { message: String },
}

impl Table {
    /// Parses a whole file. The trainer calls this on the opened envelope; the browser on the picked file.
    pub fn parse(bytes: &[u8], format: Format, options: &ParseOptions) -> Result<Table, TableError> {
        infer::finish(Self::raw(bytes, format, options, &[])?, None)
    }

    /// Parses a file as its declaration says: the declared columns, with the declared kinds
    /// where the values allow them (a column of numbers declared categorical stays categories,
    /// each value's text as written); otherwise `TableError::Declaration` names the column and
    /// both kinds. The trainer reads datasets this way.
    pub fn parse_declared(bytes: &[u8], format: Format, options: &ParseOptions, declared: &[Column]) -> Result<Table, TableError> {
        let text_columns: Vec<bool> = declared.iter().map(|c| c.kind == ColumnKind::Categorical).collect();
        infer::finish(Self::raw(bytes, format, options, &text_columns)?, Some(declared))
    }

    /// `text_columns[j]`: keep column j's CSV text as written (declared categorical).
    fn raw(bytes: &[u8], format: Format, options: &ParseOptions, text_columns: &[bool]) -> Result<RawTable, TableError> {
        match format {
            Format::Csv => csv::parse(bytes, options, text_columns),
            Format::Json => json::parse(bytes),
            Format::Xlsx => xlsx::parse(bytes, options),
        }
    }

    /// Overwrites every value in place (text with zeros) before the table is dropped: the
    /// trainer calls this when a job is done with decrypted rows.
    pub fn wipe(&mut self) {
        use zeroize::Zeroize;
        for row in &mut self.rows {
            for cell in row.iter_mut() {
                match cell {
                    Cell::Text(s) => s.zeroize(),
                    Cell::Number(n) => n.zeroize(),
                    Cell::Bool(b) => *b = false,
                    Cell::Missing => {}
                }
            }
        }
        self.rows.clear();
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn summaries(&self) -> Vec<ColumnSummary> {
        summary::summarise(self)
    }
}

/// Names and rows as each format's reader hands them over to inference. A cell here is as
/// read: CSV yields text (numbers already parsed where the reader could), JSON and Excel are
/// typed; `infer::finish` settles each column's kind and rewrites only the cells that change.
pub(crate) struct RawTable {
    pub names: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Per column: every cell is already a finite number or missing (the CSV reader knows this
    /// as it reads), so inference need not look at the column again. Empty when unknown.
    pub numeric: Vec<bool>,
}

/// Header names are what people select a target by, so they must be unique and non-empty.
pub(crate) fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.into_iter().enumerate() {
        let base = match name.trim() {
            "" => format!("column_{}", i + 1),
            s => s.to_string(),
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while out.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}
