//! Reading a CSV file in pieces, for the browser: a 1 GB file is validated, typed and
//! summarised without holding it (or its rows) in memory. The result is exactly what
//! [`Table::parse`] followed by [`Table::summaries`] gives, which the tests check, because the
//! trainer parses the whole file again after opening it and compares the schema.

use serde::{Deserialize, Serialize};

use super::csv::{describe, detect_delimiter, is_plain, looks_like_header, no_lone_cr, not_utf8, plain_decimal, reader, SAMPLE_BYTES};
use super::infer::{convert, is_missing_text, parse_bool, parse_number};
use super::{Cell, Column, ColumnKind, ColumnStats, ColumnSummary, Format, Location, ParseOptions, TableError};

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
            rows: table.len(),
            preview: table.rows().take(PREVIEW_ROWS).collect(),
            summaries: table.summaries(),
        }
    }
}

/// One column's running summary. Categories are counted by each value's text, but a number's
/// text is only worth counting if the column turns out categorical, which is rare and known
/// only at the end: so numbers are counted only once the column has shown text
/// (`count_numbers`), and a column that showed numbers before its first text
/// (`uncounted_numbers`) is counted again from the top in a second pass
/// ([`CsvScanner::second_pass`]). Counting every number was most of a numeric file's scan.
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
    /// By each value's bytes (UTF-8 text, trimmed), so a value seen before is found without
    /// reading it as text again (`add`).
    categories: foldhash::HashMap<Vec<u8>, usize>,
    count_numbers: bool,
    uncounted_numbers: bool,
}

impl ColumnAcc {
    fn counting_numbers() -> Self {
        ColumnAcc { count_numbers: true, ..ColumnAcc::default() }
    }

    /// One field's bytes; `Err` when it is not a plain number and not UTF-8.
    fn add(&mut self, field: &[u8]) -> Result<(), std::str::Utf8Error> {
        // A plain decimal filling the field is ASCII, trimmed and not a spelling of "missing".
        if let Some((x, _)) = plain_decimal(field).filter(|(_, len)| *len == field.len()) {
            self.plain_number(x, field);
            return Ok(());
        }
        // A column that is categorical so far counted only trimmed, present UTF-8 values: one of
        // them met again is counted by its bytes, without the checks that found it so (UTF-8,
        // seven spellings of "missing", trimming, then hashing the text). With one `yes`/`no`
        // column of nine, the upload benchmark's file scanned in 0.32 s instead of 0.41 s on
        // one core.
        if self.not_num && self.not_bool {
            if let Some(c) = self.categories.get_mut(field) {
                *c += 1;
                return Ok(());
            }
        }
        let raw = std::str::from_utf8(field)?;
        if is_missing_text(raw) {
            self.missing += 1;
            return Ok(());
        }
        let text = raw.trim();
        // A column that has shown text is not numeric whatever follows, and counts every value
        // by its text: a number's value would only feed a numeric column's statistics, so it
        // is not read (a number is no boolean either, which `parse_bool` says). Std's float
        // reader failing on every "yes" and "no" took 8% of the upload benchmark's scan.
        if !self.not_num {
            match parse_number(text) {
                Some(x) => {
                    self.number(x);
                    self.not_bool = true;
                    self.count_number(text.as_bytes());
                    return Ok(());
                }
                None => {
                    self.not_num = true;
                    self.count_numbers = true;
                }
            }
        }
        if !self.not_bool {
            match parse_bool(text) {
                Some(true) => self.trues += 1,
                Some(false) => self.falses += 1,
                None => self.not_bool = true,
            }
        }
        self.count(text.as_bytes());
        Ok(())
    }

    /// The field at the start of `rest`, as [`ColumnAcc::add`] takes it; returns the field's
    /// length. The field ends at `delimiter`, a line end (`\n`, or the `\r` of a `\r\n`: the
    /// caller's block is plain, so a `\r` is never anything else) or the end of `rest`, so the
    /// line's end is found as its fields are read. A plain number is read in the same pass
    /// that finds its end, so a numeric field's bytes are read once.
    fn add_first(&mut self, rest: &[u8], delimiter: u8) -> Result<usize, std::str::Utf8Error> {
        let ends = |b: &u8| *b == delimiter || *b == b'\n' || *b == b'\r';
        if let Some((x, len)) = plain_decimal(rest).filter(|(_, len)| rest.get(*len).is_none_or(ends)) {
            self.plain_number(x, &rest[..len]);
            return Ok(len);
        }
        let len = memchr::memchr3(delimiter, b'\n', b'\r', rest).unwrap_or(rest.len());
        self.add(&rest[..len])?;
        Ok(len)
    }

    /// A plain decimal `x` spelled `text`.
    fn plain_number(&mut self, x: f64, text: &[u8]) {
        self.number(x);
        self.not_bool = true;
        self.count_number(text);
    }

    fn number(&mut self, x: f64) {
        self.min = if self.n == 0 { x } else { self.min.min(x) };
        self.max = if self.n == 0 { x } else { self.max.max(x) };
        self.sum += x;
        self.n += 1;
    }

    /// `text` is a number's text (ASCII, so UTF-8 as `count` needs).
    fn count_number(&mut self, text: &[u8]) {
        if self.count_numbers {
            self.count(text);
        } else {
            self.uncounted_numbers = true;
        }
    }

    /// Counts a value by its bytes, which are UTF-8 text (`summary` reads them back as such).
    fn count(&mut self, text: &[u8]) {
        if let Some(c) = self.categories.get_mut(text) {
            *c += 1;
        } else if self.categories.len() < MAX_CATEGORIES {
            self.categories.insert(text.to_vec(), 1);
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
                // Every key is UTF-8 (`count`).
                let counts = self.categories.into_iter().map(|(k, c)| (String::from_utf8_lossy(&k).into_owned(), c)).collect();
                ColumnStats::Categorical { distinct, top: super::summary::top_categories(counts) }
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
    /// Whether `buf[..searched]` may hold a quote (a block from it then needs `is_plain`).
    quoted_tail: bool,
    delimiter: Option<u8>,
    lines_before: u64,
    started: bool,
    width: usize,
    names: Vec<String>,
    columns: Vec<ColumnAcc>,
    preview: Vec<Vec<String>>,
    rows: usize,
    /// Columns whose numbers are counted as categories from the first row (a second pass).
    count_numbers: Vec<bool>,
}

impl CsvScanner {
    pub fn new(options: ParseOptions) -> CsvScanner {
        CsvScanner {
            options,
            buf: Vec::new(),
            searched: 0,
            in_quotes: false,
            boundary: 0,
            quoted_tail: false,
            delimiter: None,
            lines_before: 0,
            started: false,
            width: 0,
            names: Vec::new(),
            columns: Vec::new(),
            preview: Vec::new(),
            rows: 0,
            count_numbers: Vec::new(),
        }
    }

    /// Scans bytes already in memory, pushed in pieces of `piece` bytes, with the second pass
    /// when one is needed: what the worker does with a file, for tests and benchmarks.
    pub fn scan(bytes: &[u8], options: ParseOptions, piece: usize) -> Result<Scan, TableError> {
        let mut scanner = CsvScanner::new(options);
        loop {
            for p in bytes.chunks(piece.max(1)) {
                scanner.push(p)?;
            }
            match scanner.second_pass()? {
                Some(again) => scanner = again,
                None => return scanner.finish(),
            }
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
        let new = &self.buf[self.searched..];
        let unquoted = !self.in_quotes && memchr::memchr(b'"', new).is_none();
        if unquoted {
            if let Some(i) = memchr::memrchr(b'\n', new) {
                self.boundary = self.searched + i + 1;
            }
        } else {
            for (i, b) in new.iter().enumerate() {
                match b {
                    b'"' => self.in_quotes = !self.in_quotes,
                    b'\n' if !self.in_quotes => self.boundary = self.searched + i + 1,
                    _ => {}
                }
            }
        }
        self.searched = self.buf.len();
        // Whether the block read below has no quote is then known without a pass of its own.
        let block_unquoted = unquoted && !self.quoted_tail;
        self.quoted_tail |= !unquoted;
        if self.boundary > 0 {
            let boundary = std::mem::take(&mut self.boundary);
            let mut buf = std::mem::take(&mut self.buf);
            self.searched -= boundary;
            self.lines_before += self.records(&buf[..boundary], block_unquoted)?;
            // Only the partial line after the boundary moves; the buffer keeps its capacity.
            buf.drain(..boundary);
            self.quoted_tail = self.quoted_tail && memchr::memchr(b'"', &buf).is_some();
            self.buf = buf;
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

    /// The records of `block` (whole lines, `lines_before` lines into the file), and its count
    /// of lines. A plain block (no quotes, see [`is_plain`]) is read line by line after its
    /// header, the way the whole-file parser reads one: about twice as fast as the `csv` reader
    /// natively, and most of a numeric file's preview in the browser. Anything else goes to the
    /// `csv` reader.
    fn records(&mut self, block: &[u8], unquoted: bool) -> Result<u64, TableError> {
        let newlines = |bytes: &[u8]| memchr::memchr_iter(b'\n', bytes).count() as u64;
        let mut lines = self.lines_before;
        if !(if unquoted { no_lone_cr(block) } else { is_plain(block) }) {
            self.general_records(block, lines)?;
            return Ok(newlines(block));
        }
        let mut rest = block;
        // The first record (the header, or the width) through the general reader, line by line
        // (it skips empty lines).
        while !self.started && !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            self.general_records(&rest[..end], lines)?;
            lines += 1;
            rest = &rest[end..];
        }
        let (done, read) = if self.started { self.plain_records(rest) } else { (0, 0) };
        lines += read;
        let rest = &rest[done..];
        self.general_records(rest, lines)?;
        Ok(lines + newlines(rest) - self.lines_before)
    }

    /// Reads the lines of a plain block until one the general reader must see, and returns the
    /// bytes and lines read (whole lines). Such a line (a wrong count of fields, text that is not UTF-8)
    /// is an error there, with its line number, so what this line already added to the
    /// summaries does not matter: the scan ends with that error.
    fn plain_records(&mut self, block: &[u8]) -> (usize, u64) {
        let delimiter = self.delimiter.unwrap_or(b',');
        let mut done = 0;
        let mut lines = 0;
        while done < block.len() {
            let Some(taken) = self.plain_record(&block[done..], delimiter) else { break };
            done += taken;
            lines += 1;
        }
        (done, lines)
    }

    /// The line `text` starts with onto the summaries (and the preview): the count of bytes
    /// it spans with its `\n` or `\r\n`. `None` when the general reader must read it (see
    /// [`CsvScanner::plain_records`]). The line's end is where its last field ends, not looked
    /// for first: `next_line`'s scan for it was a second pass over the bytes.
    fn plain_record(&mut self, text: &[u8], delimiter: u8) -> Option<usize> {
        let width = self.columns.len();
        // The `csv` reader yields no record for an empty line; the general reader skips a
        // one-field record of spaces.
        match text {
            [b'\n', ..] => return Some(1),
            [b'\r', b'\n', ..] => return Some(2),
            _ if width == 1 => {
                let end = memchr::memchr(b'\n', text).map_or(text.len(), |i| i + 1);
                if text[..end].trim_ascii().is_empty() {
                    return Some(end);
                }
            }
            _ => {}
        }
        let mut at = 0;
        for (j, acc) in self.columns.iter_mut().enumerate() {
            let len = at + acc.add_first(&text[at..], delimiter).ok()?;
            // The field ends the line exactly when it is the last one.
            match (text.get(len), j + 1 == width) {
                (Some(b), false) if *b == delimiter => at = len + 1,
                (Some(b'\n' | b'\r') | None, true) => at = len,
                _ => return None,
            }
        }
        if self.preview.len() < PREVIEW_ROWS {
            // Every field was read as UTF-8 (or ASCII digits) above.
            self.preview.push(text[..at].split(|b| *b == delimiter).map(|f| String::from_utf8_lossy(f).into_owned()).collect());
        }
        self.rows += 1;
        // Past the `\n`, or the `\r\n` (a `\r` is one's start in a plain block).
        Some(if text.get(at) == Some(&b'\r') { at + 2 } else { at + 1 }.min(text.len()))
    }

    /// The records of `block` through the `csv` reader (quotes, and every error with its line).
    fn general_records(&mut self, block: &[u8], lines_before: u64) -> Result<(), TableError> {
        let delimiter = self.delimiter.unwrap_or(b',');
        let mut rdr = reader(block, delimiter, true);
        let mut record = ::csv::ByteRecord::new();
        while rdr.read_byte_record(&mut record).map_err(|e| shift(describe(e), lines_before))? {
            let line = record.position().map_or(0, |p| p.line()) + lines_before;
            let bad_text = |j: usize| shift(not_utf8(&record, j), lines_before);
            let text = |j: usize, f: &[u8]| std::str::from_utf8(f).map(str::to_owned).map_err(|_| bad_text(j));
            if !self.started {
                self.started = true;
                self.width = record.len();
                let first: Vec<String> = record.iter().enumerate().map(|(j, f)| text(j, f)).collect::<Result<_, _>>()?;
                let header = self.options.header.unwrap_or_else(|| looks_like_header(&first));
                self.columns = (0..self.width)
                    .map(|j| {
                        if self.count_numbers.get(j).copied().unwrap_or(false) {
                            ColumnAcc::counting_numbers()
                        } else {
                            ColumnAcc::default()
                        }
                    })
                    .collect();
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
            if record.len() == 1 && record[0].trim_ascii().is_empty() {
                continue;
            }
            for (j, (acc, value)) in self.columns.iter_mut().zip(record.iter()).enumerate() {
                acc.add(value).map_err(|_| bad_text(j))?;
            }
            if self.preview.len() < PREVIEW_ROWS {
                self.preview.push(record.iter().enumerate().map(|(j, f)| text(j, f)).collect::<Result<_, _>>()?);
            }
            self.rows += 1;
        }
        Ok(())
    }

    /// After the whole file was pushed: `Some(scanner)` when a column turned out categorical
    /// after numbers it did not count (see `ColumnAcc`); push the whole file into that scanner
    /// again, which counts those columns' numbers from the top, and finish it instead. Rare:
    /// a column that is mostly numbers with some text (codes, ids).
    pub fn second_pass(&mut self) -> Result<Option<CsvScanner>, TableError> {
        self.flush()?;
        let recount: Vec<bool> = self.columns.iter().map(|c| c.kind() == ColumnKind::Categorical && c.uncounted_numbers).collect();
        if !recount.iter().any(|r| *r) {
            return Ok(None);
        }
        let mut again = CsvScanner::new(self.options.clone());
        again.count_numbers = recount;
        Ok(Some(again))
    }

    /// Reads what is left in the buffer (the last line may lack its newline).
    fn flush(&mut self) -> Result<(), TableError> {
        if self.delimiter.is_none() {
            self.begin();
        }
        let rest = std::mem::take(&mut self.buf);
        self.searched = 0;
        self.quoted_tail = false;
        self.records(&rest, false).map(|_| ())
    }

    /// The scan, once the whole file was pushed (and [`CsvScanner::second_pass`] said `None`:
    /// otherwise a column's categories lack the numbers it did not count).
    pub fn finish(mut self) -> Result<Scan, TableError> {
        self.flush()?;
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
                    .map(|(v, k)| if is_missing_text(&v) { Cell::Missing } else { convert(Cell::Text(v), *k) })
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
