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
#[cfg(feature = "xlsx")]
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

impl Column {
    /// How the pages name a column to a person: "age (numeric)".
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.kind.as_str())
    }
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

/// One column's values, stored together: a numeric column is one `Vec<f64>`, 8 bytes a value,
/// where a row-major table of `Cell`s took 32 and an allocation per row (issue 17: parsing
/// 200,000 × 20 numbers spent most of its time there, and training reads by column anyway).
/// A missing number is NaN: every number a table holds is finite, so NaN is free to mean it.
#[derive(Clone, Debug)]
pub enum Values {
    Numbers(Vec<f64>),
    Bools(Vec<Option<bool>>),
    Texts(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Numbers(v) => v.len(),
            Values::Bools(v) => v.len(),
            Values::Texts(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as a cell (text is copied).
    pub fn get(&self, i: usize) -> Cell {
        match self {
            Values::Numbers(v) => v.get(i).map_or(Cell::Missing, |n| number_cell(*n)),
            Values::Bools(v) => v.get(i).copied().flatten().map_or(Cell::Missing, Cell::Bool),
            Values::Texts(v) => v.get(i).and_then(|s| s.clone()).map_or(Cell::Missing, Cell::Text),
        }
    }

    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Values::Numbers(v) => v.get(i).is_none_or(|n| n.is_nan()),
            Values::Bools(v) => v.get(i).is_none_or(Option::is_none),
            Values::Texts(v) => v.get(i).is_none_or(Option::is_none),
        }
    }

    /// Value `i` as a class label (a cell's text, see `Display for Cell`), `None` when missing:
    /// borrowed from a column of text, so labelling a target copies nothing per row.
    pub fn label(&self, i: usize) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Values::Numbers(_) => self.number(i).map(|n| Cow::Owned(n.to_string())),
            Values::Bools(v) => v.get(i).copied().flatten().map(|b| Cow::Borrowed(if b { "true" } else { "false" })),
            Values::Texts(v) => v.get(i).and_then(|s| s.as_deref()).map(Cow::Borrowed),
        }
    }

    /// Value `i` when it is a number.
    pub fn number(&self, i: usize) -> Option<f64> {
        match self {
            Values::Numbers(v) => v.get(i).copied().filter(|n| !n.is_nan()),
            _ => None,
        }
    }

    /// The values of `kind` from cells already of that kind or missing (`infer::convert`).
    pub(crate) fn from_cells(kind: ColumnKind, cells: impl Iterator<Item = Cell>) -> Values {
        match kind {
            ColumnKind::Numeric => Values::Numbers(cells.map(|c| c.as_f64().unwrap_or(f64::NAN)).collect()),
            ColumnKind::Boolean => Values::Bools(
                cells
                    .map(|c| match c {
                        Cell::Bool(b) => Some(b),
                        _ => None,
                    })
                    .collect(),
            ),
            ColumnKind::Categorical => Values::Texts(
                cells
                    .map(|c| match c {
                        Cell::Text(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
        }
    }

    fn into_cells(self) -> Box<dyn Iterator<Item = Cell>> {
        match self {
            Values::Numbers(v) => Box::new(v.into_iter().map(number_cell)),
            Values::Bools(v) => Box::new(v.into_iter().map(|b| b.map_or(Cell::Missing, Cell::Bool))),
            Values::Texts(v) => Box::new(v.into_iter().map(|s| s.map_or(Cell::Missing, Cell::Text))),
        }
    }
}

/// A stored number as a cell: NaN is a missing value.
fn number_cell(n: f64) -> Cell {
    if n.is_nan() {
        Cell::Missing
    } else {
        Cell::Number(n)
    }
}

/// Equal values in equal places; two missing numbers are equal (NaN is not equal to itself).
impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        match (self, other) {
            (Values::Numbers(a), Values::Numbers(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
            }
            (Values::Bools(a), Values::Bools(b)) => a == b,
            (Values::Texts(a), Values::Texts(b)) => a == b,
            _ => false,
        }
    }
}

/// A parsed file: columns of one length each, every value of its column's kind or missing.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    values: Vec<Values>,
    len: usize,
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

impl TableError {
    /// The error as seen from `lines` lines earlier in the file (a reader that started there).
    pub(crate) fn lines_later(self, lines: u64) -> TableError {
        match self {
            TableError::Invalid { at: Location::Line { line, field }, message } => {
                TableError::Invalid { at: Location::Line { line: line + lines, field }, message }
            }
            other => other,
        }
    }

    /// A read of a `format` file that failed part way (the reader under the parser gave up).
    pub(crate) fn stopped(format: Format, e: std::io::Error) -> TableError {
        TableError::Unreadable { format: format.as_str().to_uppercase(), message: format!("reading stopped: {e}") }
    }
}

/// Which columns the readers keep as text as written: those declared categorical.
fn text_columns(declared: &[Column]) -> Vec<bool> {
    declared.iter().map(|c| c.kind == ColumnKind::Categorical).collect()
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
        infer::finish(Self::raw(bytes, format, options, &text_columns(declared))?, Some(declared))
    }

    /// `parse_declared` for a file read from `input` as it arrives: the trainer's way to a
    /// dataset it decrypts as it reads, so a large one is not held twice (as text, then as
    /// columns). CSV is parsed a window of lines at a time; JSON and Excel, whose readers need
    /// the whole file, are read whole first. `rows` and `bytes` are the declared row count and
    /// size, to allocate once.
    pub fn read_declared(
        mut input: impl std::io::Read,
        format: Format,
        options: &ParseOptions,
        declared: &[Column],
        rows: usize,
        bytes: usize,
    ) -> Result<Table, TableError> {
        let text_columns = text_columns(declared);
        // Every row after the first takes at least two bytes (a value and its line end): a
        // declared count no file of `bytes` could hold does not size an allocation.
        let rows = rows.min(bytes / 2 + 1);
        let raw = match format {
            Format::Csv => csv::parse_stream(input, options, &text_columns, rows, csv::WINDOW)?,
            Format::Json | Format::Xlsx => {
                // A declared size one more than the file's: `read_to_end` does not grow the
                // buffer (which would leave a copy behind) just to find the end.
                let mut whole = zeroize::Zeroizing::new(Vec::with_capacity(bytes.saturating_add(1)));
                input.read_to_end(&mut whole).map_err(|e| TableError::stopped(format, e))?;
                Self::raw(&whole, format, options, &text_columns)?
            }
        };
        infer::finish(raw, Some(declared))
    }

    /// `text_columns[j]`: keep column j's CSV text as written (declared categorical).
    fn raw(bytes: &[u8], format: Format, options: &ParseOptions, text_columns: &[bool]) -> Result<RawTable, TableError> {
        match format {
            Format::Csv => csv::parse(bytes, options, text_columns),
            Format::Json => json::parse(bytes),
            #[cfg(feature = "xlsx")]
            Format::Xlsx => xlsx::parse(bytes, options),
            // The file worker's bundle for CSV and JSON: its pages start the Excel bundle for
            // an .xlsx file (`file_worker::WorkerRequest::reads_excel`), so only a stale page
            // meets this.
            #[cfg(not(feature = "xlsx"))]
            Format::Xlsx => Err(TableError::Unreadable {
                format: "Excel (.xlsx)".into(),
                message: "this file reader reads CSV and JSON only; reload the page".into(),
            }),
        }
    }

    /// A table from rows of cells, each converted to its column's kind (a value that cannot
    /// be is missing); a short row is missing the rest. For rows built in code (a prediction
    /// request, tests); files go through `parse`.
    pub fn from_rows(columns: Vec<Column>, rows: Vec<Vec<Cell>>) -> Table {
        let len = rows.len();
        let values =
            columns.iter().zip(transpose(rows, columns.len())).map(|(c, cells)| infer::settle(RawColumn::Cells(cells), c.kind)).collect();
        Table { columns, values, len }
    }

    /// Columns already of their kinds, each `len` long (the readers' `infer::finish`).
    pub(crate) fn from_values(columns: Vec<Column>, values: Vec<Values>, len: usize) -> Table {
        debug_assert!(values.len() == columns.len() && values.iter().all(|v| v.len() == len));
        Table { columns, values, len }
    }

    /// Rows, the count of.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Column `col`'s values; panics when there is no such column, like indexing.
    pub fn values(&self, col: usize) -> &Values {
        &self.values[col]
    }

    /// The value at `row`, `col` (text is copied).
    pub fn cell(&self, row: usize, col: usize) -> Cell {
        self.values.get(col).map_or(Cell::Missing, |v| v.get(row))
    }

    /// Row `i` as cells, one per column (text is copied).
    pub fn row(&self, i: usize) -> Vec<Cell> {
        self.values.iter().map(|v| v.get(i)).collect()
    }

    /// The rows as cells, in order (text is copied).
    pub fn rows(&self) -> impl Iterator<Item = Vec<Cell>> + '_ {
        (0..self.len).map(|i| self.row(i))
    }

    /// The rows as cells, taking the table apart (text is moved, not copied).
    pub fn into_rows(self) -> Vec<Vec<Cell>> {
        let mut rows: Vec<Vec<Cell>> = (0..self.len).map(|_| Vec::with_capacity(self.values.len())).collect();
        for values in self.values {
            for (row, cell) in rows.iter_mut().zip(values.into_cells()) {
                row.push(cell);
            }
        }
        rows
    }

    /// The same columns with only `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Table {
        let values = self
            .values
            .iter()
            .map(|v| match v {
                Values::Numbers(v) => Values::Numbers(rows.iter().map(|&r| v[r]).collect()),
                Values::Bools(v) => Values::Bools(rows.iter().map(|&r| v[r]).collect()),
                Values::Texts(v) => Values::Texts(rows.iter().map(|&r| v[r].clone()).collect()),
            })
            .collect();
        Table { columns: self.columns.clone(), values, len: rows.len() }
    }

    /// Makes column `col` categorical, each value its text as shown (`Cell`'s `Display`): a
    /// participant's column that a federation declares categorical.
    pub fn make_categorical(&mut self, col: usize) {
        if self.columns[col].kind == ColumnKind::Categorical {
            return;
        }
        let old = std::mem::replace(&mut self.values[col], Values::Texts(Vec::new()));
        self.values[col] = Values::Texts(old.into_cells().map(|c| (!c.is_missing()).then(|| c.to_string())).collect());
        self.columns[col].kind = ColumnKind::Categorical;
    }

    /// Overwrites every value in place (text with zeros) before the table is dropped: the
    /// trainer calls this when a job is done with decrypted rows.
    pub fn wipe(&mut self) {
        use zeroize::Zeroize;
        for values in &mut self.values {
            match values {
                Values::Numbers(v) => v.zeroize(),
                Values::Bools(v) => v.iter_mut().for_each(|b| *b = None),
                Values::Texts(v) => v.iter_mut().flatten().for_each(|s| s.zeroize()),
            }
        }
        self.values.clear();
        self.len = 0;
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    pub fn summaries(&self) -> Vec<ColumnSummary> {
        summary::summarise(self)
    }
}

/// Names and columns as each format's reader hands them over to inference, every column of
/// `len` values. `infer::finish` settles each column's kind.
pub(crate) struct RawTable {
    pub names: Vec<String>,
    pub columns: Vec<RawColumn>,
    pub len: usize,
}

/// One column as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawColumn {
    /// Every value a finite number or missing (NaN): the CSV reader knows this as it reads, so
    /// inference need not look at the column again.
    Numbers(Vec<f64>),
    /// Cells as read: CSV yields text (numbers already parsed where the reader could), JSON and
    /// Excel are typed.
    Cells(Vec<Cell>),
}

impl RawColumn {
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Numbers(v) => v.len(),
            RawColumn::Cells(v) => v.len(),
        }
    }

    /// As cells (numbers where a value is one), for a column whose kind is still open.
    pub fn into_cells(self) -> Vec<Cell> {
        match self {
            RawColumn::Numbers(v) => v.into_iter().map(number_cell).collect(),
            RawColumn::Cells(v) => v,
        }
    }

    /// The column's cells, a column of numbers turned into one of cells first (it is about
    /// to hold something else).
    pub fn cells_mut(&mut self) -> &mut Vec<Cell> {
        if let RawColumn::Numbers(_) = self {
            *self = RawColumn::Cells(std::mem::replace(self, RawColumn::Cells(Vec::new())).into_cells());
        }
        match self {
            RawColumn::Cells(cells) => cells,
            RawColumn::Numbers(_) => unreachable!("turned into cells above"),
        }
    }

    /// `other`'s values after ours.
    pub fn append(&mut self, other: RawColumn) {
        match (&mut *self, other) {
            (RawColumn::Numbers(a), RawColumn::Numbers(b)) => a.extend_from_slice(&b),
            (_, other) => self.cells_mut().extend(other.into_cells()),
        }
    }
}

impl RawTable {
    /// Columns from rows of typed cells (JSON, Excel); a short row is missing the rest.
    pub fn from_rows(names: Vec<String>, rows: Vec<Vec<Cell>>) -> RawTable {
        let len = rows.len();
        let columns = transpose(rows, names.len()).into_iter().map(RawColumn::Cells).collect();
        RawTable { names, columns, len }
    }
}

/// `width` columns from rows of cells, each cell moved; a short row is missing the rest.
fn transpose(rows: Vec<Vec<Cell>>, width: usize) -> Vec<Vec<Cell>> {
    let mut columns: Vec<Vec<Cell>> = (0..width).map(|_| Vec::with_capacity(rows.len())).collect();
    for row in rows {
        let mut row = row.into_iter();
        for column in &mut columns {
            column.push(row.next().unwrap_or(Cell::Missing));
        }
    }
    columns
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
