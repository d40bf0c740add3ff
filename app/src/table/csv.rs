//! Delimited text: delimiter and header detection on top of the `csv` crate's reader.

use std::io::Read;

use zeroize::Zeroizing;

use super::infer::{is_missing_text, parse_number};
use super::{Cell, Format, Location, ParseOptions, RawColumn, RawTable, TableError};

/// The byte-order mark some editors put before UTF-8 text.
const BOM: &[u8] = b"\xEF\xBB\xBF";

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Enough lines to tell the delimiter apart, small enough to try four times.
pub(crate) const SAMPLE_BYTES: usize = 64 * 1024;

pub(crate) fn reader<R: Read>(input: R, delimiter: u8, flexible: bool) -> ::csv::Reader<R> {
    ::csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(flexible).from_reader(input)
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

/// What each column's values allowed so far. Numbers are parsed as they are read, so a numeric
/// column costs no text allocation (most of a training set); a column that turns out to hold
/// text as well gets its numbers' original spelling back from a second read (so "007" stays
/// "007" in a categorical column). Columns declared categorical are text from the start.
#[derive(Clone)]
struct Kinds {
    /// Still all numbers or missing.
    numeric: Vec<bool>,
    /// Some cell was stored as a number.
    seen_number: Vec<bool>,
}

impl Kinds {
    fn new(width: usize, text_columns: &[bool]) -> Self {
        Kinds { numeric: (0..width).map(|j| !text_columns.get(j).copied().unwrap_or(false)).collect(), seen_number: vec![false; width] }
    }

    /// Field `j` of a record as a cell; `Err` when it must be text and is not UTF-8.
    fn cell(&mut self, j: usize, field: &[u8]) -> Result<Cell, std::str::Utf8Error> {
        if self.numeric[j] {
            if let Some(n) = parse_number_bytes(field) {
                self.seen_number[j] = true;
                return Ok(Cell::Number(n));
            }
            let text = std::str::from_utf8(field)?;
            if is_missing_text(text) {
                return Ok(Cell::Missing);
            }
            self.numeric[j] = false;
            return Ok(Cell::Text(text.to_owned()));
        }
        Ok(Cell::Text(std::str::from_utf8(field)?.to_owned()))
    }

    /// The state after reading `other`'s rows after ours.
    fn merge(&mut self, other: &Kinds) {
        for j in 0..self.numeric.len() {
            self.numeric[j] &= other.numeric[j];
            self.seen_number[j] |= other.seen_number[j];
        }
    }

    /// Columns holding both text and cells stored as numbers: those need their spelling back.
    fn mixed(&self) -> Vec<bool> {
        self.numeric.iter().zip(&self.seen_number).map(|(n, s)| !n && *s).collect()
    }
}

/// A number from a field's bytes: plain decimals (`-12.5`, `3`) directly, anything else
/// (exponents, surrounding spaces, long mantissas) through `parse_number`.
fn parse_number_bytes(field: &[u8]) -> Option<f64> {
    match plain_decimal(field) {
        Some((value, len)) if len == field.len() => Some(value),
        _ => std::str::from_utf8(field).ok().and_then(parse_number),
    }
}

/// The plain decimal that `bytes` starts with (`-12.5`, `3`: a sign, digits, one point) and
/// the count of bytes it spans; `None` when `bytes` starts with anything else. The caller
/// decides whether what follows ends the field.
///
/// Written here rather than taken from a crate because this is the whole hot loop of a
/// numeric upload and std's parser (like `fast-float2`) first validates UTF-8 and scans the
/// grammar in general, and the reader needs the number's end to find the field's (one scan of
/// the bytes, not two): digits (at most 15) read into an integer `m` below 2^53 with `k` ≤ 15
/// decimals give `m / 10^k` correctly rounded (both are exact doubles: Clinger's fast path,
/// which std takes too), so the result is bit-for-bit std's (a test compares them).
///
/// A longer mantissa (the 16 or 17 significant digits a program writes to keep a double
/// exact: JavaScript's `String(x)`, numpy's and pandas' `repr`) goes to `fast-float2`
/// (already in the bundle under calamine), which reads it and its end in one pass as well,
/// correctly rounded like std (Eisel-Lemire, with a big-number fallback): before it, such a
/// file went through the field's end, UTF-8 validation and std's parser, at less than half
/// the speed.
///
/// Always inlined: the scanner (another module, so natively another codegen unit) called it,
/// and so did the worker's build, where LLVM judged it too large for its callers. Inlined, the
/// preview's scan of the upload benchmark's file took 0.41 s instead of 0.46 s on one core.
#[inline(always)]
pub(crate) fn plain_decimal(bytes: &[u8]) -> Option<(f64, usize)> {
    // Indexed by the sign and the count of decimals (at most the count of digits, 15): the
    // quotient by a negative power is the negated quotient (round-to-nearest is symmetric),
    // so the sign costs a table row, not an operation.
    const POW10: [[f64; 16]; 2] = [
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15],
        [-1e0, -1e1, -1e2, -1e3, -1e4, -1e5, -1e6, -1e7, -1e8, -1e9, -1e10, -1e11, -1e12, -1e13, -1e14, -1e15],
    ];
    // The sign without a branch: in data whose signs are random (centred features,
    // residuals), the two branches on it (skip it, negate the value) were mispredicted on
    // about every other field (bench-parse's file, half its fields negative, on one core:
    // 0.069 s → 0.051 s without them).
    let first = bytes.first().copied().unwrap_or(0);
    let negative = first == b'-';
    let start = usize::from(negative | (first == b'+'));
    // The digits before and after the point, each a run of `digits_from`, whose only test is
    // "is this a digit", folded with wrapping arithmetic: more than 15 digits go to
    // `long_decimal`, which reads the number again, so an overflowed mantissa is never used.
    // One loop with a point flag and a count test per digit ran 169 instructions a field on
    // bench-parse's numbers (callgrind), these two runs 123.
    let mut mantissa: u64 = 0;
    let mut digits_from = |mut i: usize| {
        while let Some(d) = bytes.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        i
    };
    let mut i = digits_from(start);
    let mut count = i - start;
    let mut decimals = 0;
    if bytes.get(i) == Some(&b'.') {
        let after_point = i + 1;
        i = digits_from(after_point);
        decimals = i - after_point;
        count += decimals;
    }
    if count == 0 {
        return None;
    }
    if count > 15 {
        let (value, len) = long_decimal(bytes);
        return (len > 0).then_some((value, len));
    }
    // At most 15 digits: mantissa < 10^15 < 2^53, exact as a double. "-0" reads as -0.0, as
    // std reads it (0 / -1 is -0).
    Some((mantissa as f64 / POW10[usize::from(negative)][decimals], i))
}

/// `plain_decimal` for more than 15 digits: the number `bytes` starts with (an exponent
/// included, as std reads it), finite, and the count of bytes it spans; a count of 0 when
/// there is none. Not inlined: it keeps `plain_decimal`, which the readers' loops inline, as
/// small as its 15-digit loop.
///
/// A pair, not an `Option` of one: a pair comes back in two registers, an `Option` of it
/// through memory, and with that one call in it the inlined `plain_decimal` gave every
/// number's value and end to its caller through the stack too, a store and a load on the way
/// to the next field (`perf annotate` of the parse's loop: 24 % of its samples on that store,
/// which waits for the division, 12 % on that load; docs/building.md has the figures after).
#[inline(never)]
fn long_decimal(bytes: &[u8]) -> (f64, usize) {
    fast_float2::parse_partial::<f64, _>(bytes).ok().filter(|(x, _)| x.is_finite()).unwrap_or((0.0, 0))
}

/// The columns of a body read by `read` or `plain_parts`, with the state they leave.
///
/// `plain_parts` fills a numeric column in place, each core writing its part's rows into its
/// own stretch of one allocation, so such a column may hold unused slots past `len` (zeros,
/// or values of a window that was then refused); `trim` drops them before rows are pushed on
/// or the body is assembled.
struct Body {
    columns: Vec<RawColumn>,
    len: usize,
    kinds: Kinds,
}

impl Body {
    fn new(kinds: Kinds, capacity: usize) -> Body {
        let columns = kinds
            .numeric
            .iter()
            .map(|n| if *n { RawColumn::Numbers(Vec::with_capacity(capacity)) } else { RawColumn::Cells(Vec::with_capacity(capacity)) })
            .collect();
        Body { columns, len: 0, kinds }
    }

    /// Drops the unused slots `plain_parts` leaves past the rows.
    fn trim(&mut self) {
        for column in &mut self.columns {
            if let RawColumn::Numbers(v) = column {
                v.truncate(self.len);
            }
        }
    }
}

/// Adds `cell` (a number, missing, or text) to the end of column `column`; a column of numbers
/// given text becomes a column of cells.
fn push(column: &mut RawColumn, cell: Cell) {
    match (&mut *column, cell) {
        (RawColumn::Numbers(v), Cell::Number(n)) => v.push(n),
        (RawColumn::Numbers(v), Cell::Missing) => v.push(f64::NAN),
        (_, cell) => column.cells_mut().push(cell),
    }
}

/// Reads every record: the header candidate and the rows under it.
pub(crate) fn parse(bytes: &[u8], options: &ParseOptions, text_columns: &[bool]) -> Result<RawTable, TableError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let delimiter = detect_delimiter(bytes);
    let (first, body) = match plain(bytes, delimiter, text_columns) {
        Some(read) => read,
        None => read(bytes, delimiter, text_columns)?,
    };
    let (mut raw, header, mixed) = assemble(first, body, options);
    if mixed.iter().any(|m| *m) {
        respell(bytes, delimiter, &mixed, !header, &mut raw.columns)?;
    }
    Ok(raw)
}

/// How much of a streamed file `parse_stream` parses at a time: enough for each core's part
/// to outweigh starting its thread, little beside a dataset (only this much of the file is
/// held at once).
pub(crate) const WINDOW: usize = 8 << 20;

/// `parse` for a file read from `input` as it arrives (the trainer's decrypting reader), for
/// `Table::read_declared`: whole lines are parsed a window at a time (`window` bytes, as
/// `plain` reads a file) and dropped, so memory holds the columns and one window, not the
/// file as well; from the first window with a quote, a lone `\r` or an error on, the general
/// reader reads the rest as it arrives. `rows`, the declared count, sizes the columns once.
///
/// Columns holding both text and numbers keep the numbers as numbers (their spelling went
/// with the window): such a column fits no declaration (one declared categorical is text from
/// the start), so `parse_declared` refuses it either way, with the same message.
pub(crate) fn parse_stream(
    mut input: impl Read,
    options: &ParseOptions,
    text_columns: &[bool],
    rows: usize,
    window: usize,
) -> Result<RawTable, TableError> {
    let mut buf = Zeroizing::new(Vec::new());
    // More than the delimiter's sample, so it is cut at a line end as in a whole file.
    let mut eof = fill(&mut input, &mut buf, window.max(SAMPLE_BYTES + 1))?;
    if eof {
        return parse(&buf, options, text_columns);
    }
    if buf.starts_with(BOM) {
        buf.drain(..BOM.len());
    }
    let delimiter = detect_delimiter(&buf);
    let mut first: Option<Vec<String>> = None;
    let mut body = Body::new(Kinds::new(0, text_columns), 0);
    // Lines already parsed: the general reader counts from where it starts.
    let mut lines = 0u64;
    loop {
        let end = match (eof, memchr::memrchr(b'\n', &buf)) {
            (true, _) => buf.len(),
            (false, Some(last)) => last + 1,
            // One line longer than the window: read on to its end (doubling, so a file of one
            // long line is copied a few times, not once per window).
            (false, None) => {
                let more = buf.len() + window.max(buf.len());
                eof = fill(&mut input, &mut buf, more)?;
                continue;
            }
        };
        if !plain_window(&buf[..end], delimiter, text_columns, rows, &mut first, &mut body) {
            let rest = buf.as_slice().chain(&mut input);
            let (first, body) =
                read_records(reader(rest, delimiter, false), first, body, text_columns, rows).map_err(|e| e.lines_later(lines))?;
            return Ok(assemble(first, body, options).0);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..end]).count() as u64;
        buf.drain(..end);
        if eof {
            break;
        }
        eof = fill(&mut input, &mut buf, window)?;
    }
    let first = first.ok_or_else(|| TableError::Empty("the file is empty".into()))?;
    Ok(assemble(first, body, options).0)
}

/// Reads from `input` until `buf` holds `target` bytes (or more, as it did) or the input ends
/// (`true`). A larger buffer is a new zeroized one, so no copy of the text is left behind in
/// freed memory.
fn fill(input: &mut impl Read, buf: &mut Zeroizing<Vec<u8>>, target: usize) -> Result<bool, TableError> {
    let target = target.max(buf.len());
    if buf.capacity() < target {
        let mut larger = Zeroizing::new(Vec::with_capacity(target));
        larger.extend_from_slice(buf);
        *buf = larger;
    }
    let mut filled = buf.len();
    buf.resize(target, 0);
    let eof = loop {
        if filled == target {
            break false;
        }
        match input.read(&mut buf[filled..]) {
            Ok(0) => break true,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(filled);
                return Err(TableError::stopped(Format::Csv, e));
            }
        }
    };
    buf.truncate(filled);
    Ok(eof)
}

/// One window of whole lines read as `plain` reads a file, added to `first` (the header,
/// once found) and `body`; `false`, with nothing added, when the window has a quote or a lone
/// `\r`, or a line that is not a record of the header's width.
fn plain_window(part: &[u8], delimiter: u8, text_columns: &[bool], rows: usize, first: &mut Option<Vec<String>>, body: &mut Body) -> bool {
    let mut rest = part;
    let mut header = None;
    if first.is_none() {
        let line = std::iter::from_fn(|| next_line(&mut rest)).find(|l| !is_blank_line(l, delimiter));
        // The lines up to the header must be plain too (`plain_parts` checks the rest).
        if !is_plain(&part[..part.len() - rest.len()]) {
            return false;
        }
        let Some(line) = line else { return true };
        match header_of(line, delimiter) {
            Some(names) => header = Some(names),
            None => return false,
        }
    }
    match header {
        // The first window's rows go into a body of their own, which is the file's only once
        // they are read, so a refused window leaves `first` and `body` as they were.
        Some(names) => {
            let mut fresh = Body::new(Kinds::new(names.len(), text_columns), 0);
            if plain_parts(rest, delimiter, rows, &mut fresh).is_none() {
                return false;
            }
            (*first, *body) = (Some(names), fresh);
            true
        }
        None => plain_parts(rest, delimiter, rows, body).is_some(),
    }
}

/// The header candidate and the rows under it as `RawTable`, with whether the first line was
/// a header and which columns hold both text and numbers (`respell`'s input).
fn assemble(first: Vec<String>, mut body: Body, options: &ParseOptions) -> (RawTable, bool, Vec<bool>) {
    body.trim();
    let Body { mut columns, mut len, mut kinds } = body;
    let header = options.header.unwrap_or_else(|| looks_like_header(&first));
    let names = if header {
        first
    } else {
        // The first line is a row: its cells read like every other row's.
        for (j, (f, column)) in first.iter().zip(&mut columns).enumerate() {
            let mut head = RawColumn::Numbers(Vec::with_capacity(column.len() + 1));
            push(&mut head, kinds.cell(j, f.as_bytes()).unwrap_or_else(|_| Cell::Text(f.clone())));
            head.append(std::mem::replace(column, RawColumn::Numbers(Vec::new())));
            *column = head;
        }
        len += 1;
        (1..=first.len()).map(|i| format!("column_{i}")).collect()
    };
    (RawTable { names: super::unique_names(names), columns, len }, header, kinds.mixed())
}

fn is_blank(record: &::csv::ByteRecord) -> bool {
    record.len() == 1 && record[0].trim_ascii().is_empty()
}

pub(crate) fn not_utf8(record: &::csv::ByteRecord, field: usize) -> TableError {
    TableError::Invalid {
        at: Location::Line { line: record.position().map_or(0, |p| p.line()), field: Some(field as u64 + 1) },
        message: "the text is not UTF-8; save the file as UTF-8 and try again".into(),
    }
}

/// The general reader (quotes, lone `\r` line ends, and every error with its line).
fn read(bytes: &[u8], delimiter: u8, text_columns: &[bool]) -> Result<(Vec<String>, Body), TableError> {
    read_records(reader(bytes, delimiter, false), None, Body::new(Kinds::new(0, text_columns), 0), text_columns, 0)
}

/// `read` from wherever `rdr` starts: at the file's start (`first` is `None`), or at a line
/// after the header `first` and the rows in `body` (`parse_stream`). `rows` sizes the columns.
fn read_records<R: Read>(
    mut rdr: ::csv::Reader<R>,
    mut first: Option<Vec<String>>,
    mut body: Body,
    text_columns: &[bool],
    rows: usize,
) -> Result<(Vec<String>, Body), TableError> {
    body.trim();
    let mut record = ::csv::ByteRecord::new();
    while rdr.read_byte_record(&mut record).map_err(describe)? {
        if is_blank(&record) {
            continue;
        }
        let Some(names) = &first else {
            let names = record.iter().enumerate().map(|(j, f)| std::str::from_utf8(f).map(str::to_owned).map_err(|_| not_utf8(&record, j)));
            first = Some(names.collect::<Result<_, _>>()?);
            body = Body::new(Kinds::new(record.len(), text_columns), rows);
            continue;
        };
        // The reader refuses a record of another width than the first it read, which is a
        // row when it started after the header.
        if record.len() != names.len() {
            return Err(unequal(record.position().map_or(0, |p| p.line()), names.len(), record.len()));
        }
        for (j, (f, column)) in record.iter().zip(&mut body.columns).enumerate() {
            push(column, body.kinds.cell(j, f).map_err(|_| not_utf8(&record, j))?);
        }
        body.len += 1;
    }
    let first = first.ok_or_else(|| TableError::Empty("the file is empty".into()))?;
    Ok((first, body))
}

/// The common case without the general reader: a file with no quote characters and no lone
/// `\r` is lines split at the delimiter, which is the same records the `csv` reader yields,
/// read about twice as fast and, natively, split across the cores (a line cannot span a
/// boundary without quotes). `None` when the file is not that simple or has an error, so
/// `read` handles it and reports the error with its line.
fn plain(bytes: &[u8], delimiter: u8, text_columns: &[bool]) -> Option<(Vec<String>, Body)> {
    let (mut first, mut body) = (None, Body::new(Kinds::new(0, text_columns), 0));
    if !plain_window(bytes, delimiter, text_columns, 0, &mut first, &mut body) {
        return None;
    }
    body.trim();
    Some((first?, body))
}

/// A plain header line's names; `None` when one is not UTF-8.
fn header_of(line: &[u8], delimiter: u8) -> Option<Vec<String>> {
    line.split(|b| *b == delimiter).map(|f| std::str::from_utf8(f).ok().map(str::to_owned)).collect()
}

/// The rows of `rest` after `body`'s, cut into a part per core and read in parallel, each
/// part starting from `body`'s kinds; `None` when a line is not plain (`is_plain`) or not a
/// record of the width (the rows are then not added). `rows`, a declared count,
/// sizes fresh columns.
///
/// Each numeric column gets a slot for every line first, as one allocation split into a
/// stretch per part, and the parts write their numbers into it in place: gathering parts
/// read into columns of their own copied every value again (a sixth of the whole parse), and
/// the pages of the new memory are first touched by the cores in parallel, not by that copy.
/// A fresh column is zeroed by the allocator (`vec![0.0; n]`, pages the kernel maps as they
/// are written), so sizing it for a declared count costs nothing until rows arrive.
fn plain_parts(rest: &[u8], delimiter: u8, rows: usize, body: &mut Body) -> Option<()> {
    let parts = chunks(rest, crate::cores());
    // Lines, not rows: blank lines leave their slots unused. This pass over the bytes runs on
    // every core too.
    let lines = in_parallel(parts.clone(), |p| Some(memchr::memchr_iter(b'\n', p).count() + usize::from(!p.ends_with(b"\n"))));
    let lines: Vec<usize> = lines.into_iter().collect::<Option<_>>()?;
    let (start, total) = (body.len, lines.iter().sum::<usize>());
    let mut fills: Vec<Vec<Fill>> = parts.iter().map(|_| Vec::with_capacity(body.columns.len())).collect();
    for column in &mut body.columns {
        match column {
            RawColumn::Numbers(v) => {
                if v.len() < start + total {
                    if v.is_empty() {
                        *v = vec![0.0; total.max(rows)];
                    } else {
                        v.resize(start + total, 0.0);
                    }
                }
                let mut free = &mut v[start..start + total];
                for (fill, n) in fills.iter_mut().zip(&lines) {
                    let (slots, later) = std::mem::take(&mut free).split_at_mut(*n);
                    fill.push(Fill::Slots { slots, len: 0 });
                    free = later;
                }
            }
            RawColumn::Cells(_) => fills.iter_mut().zip(&lines).for_each(|(fill, n)| fill.push(Fill::Cells(Vec::with_capacity(*n)))),
        }
    }
    let kinds = &body.kinds;
    let read = in_parallel(parts.into_iter().zip(fills).collect(), |(part, fill)| plain_rows(part, delimiter, kinds.clone(), fill));
    let mut read: Vec<(Vec<Filled>, Kinds, usize)> = read.into_iter().collect::<Option<_>>()?;
    // Each part's rows where the rows before them end: in place unless blank lines left slots
    // unused before them; a column a part found text in becomes cells throughout.
    let offsets: Vec<usize> = lines.iter().scan(start, |at, n| Some(std::mem::replace(at, *at + n))).collect();
    for (j, column) in body.columns.iter_mut().enumerate() {
        let all_numbers = read.iter().all(|(filled, ..)| matches!(filled[j], Filled::Numbers(_)));
        match column {
            RawColumn::Numbers(v) if all_numbers => {
                let mut at = start;
                for ((filled, ..), from) in read.iter().zip(&offsets) {
                    let Filled::Numbers(len) = filled[j] else { continue };
                    if at != *from {
                        v.copy_within(*from..from + len, at);
                    }
                    at += len;
                }
            }
            _ => {
                let numbers = match column {
                    RawColumn::Numbers(v) => std::mem::take(v),
                    RawColumn::Cells(_) => Vec::new(),
                };
                let as_cells =
                    |range: std::ops::Range<usize>| numbers.get(range).unwrap_or_default().iter().copied().map(super::number_cell);
                let cells = column.cells_mut();
                cells.extend(as_cells(0..start));
                for ((filled, ..), from) in read.iter_mut().zip(&offsets) {
                    match &mut filled[j] {
                        Filled::Numbers(len) => cells.extend(as_cells(*from..*from + *len)),
                        Filled::Cells(more) => cells.append(more),
                    }
                }
            }
        }
    }
    for (_, kinds, len) in &read {
        body.kinds.merge(kinds);
        body.len += len;
    }
    Some(())
}

/// `f` of each item, each on a thread of its own when there are several (`chunks` makes one
/// part per core); a thread that panicked gives `None`.
fn in_parallel<I: Send, T: Send>(items: Vec<I>, f: impl Fn(I) -> Option<T> + Sync) -> Vec<Option<T>> {
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items.into_iter().map(|item| s.spawn(move || f(item))).collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    })
}

/// Where one part's values of a column go as it is read: its stretch of the column's slots
/// (`len` of them filled), or cells once the column is not (or no longer) all numbers.
enum Fill<'a> {
    Slots { slots: &'a mut [f64], len: usize },
    Cells(Vec<Cell>),
}

impl Fill<'_> {
    /// Adds `cell` after the values before it; a stretch of numbers given text becomes cells.
    fn push(&mut self, cell: Cell) -> Option<()> {
        match (&mut *self, cell) {
            (Fill::Slots { slots, len }, Cell::Number(n)) => put(slots, len, n)?,
            (Fill::Slots { slots, len }, Cell::Missing) => put(slots, len, f64::NAN)?,
            (Fill::Slots { slots, len }, cell) => {
                let mut cells: Vec<Cell> = slots[..*len].iter().copied().map(super::number_cell).collect();
                cells.push(cell);
                *self = Fill::Cells(cells);
            }
            (Fill::Cells(cells), cell) => cells.push(cell),
        }
        Some(())
    }

    fn done(self) -> Filled {
        match self {
            Fill::Slots { len, .. } => Filled::Numbers(len),
            Fill::Cells(cells) => Filled::Cells(cells),
        }
    }
}

/// `n` into the next slot; `None` past the last (a part has a slot for each of its lines).
fn put(slots: &mut [f64], len: &mut usize, n: f64) -> Option<()> {
    *slots.get_mut(*len)? = n;
    *len += 1;
    Some(())
}

/// What a part read into a column: `Numbers(len)` in its stretch of slots, or cells.
enum Filled {
    Numbers(usize),
    Cells(Vec<Cell>),
}

/// Whether `bytes` has no quote character and no lone `\r`: then its records are its lines
/// split at the delimiter, exactly as the `csv` reader reads them.
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    memchr::memchr(b'"', bytes).is_none() && no_lone_cr(bytes)
}

/// Whether every `\r` in `bytes` starts a `\r\n`: `is_plain` for bytes known to hold no quote.
pub(crate) fn no_lone_cr(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', bytes).all(|i| bytes.get(i + 1) == Some(&b'\n'))
}

/// The next line of `rest` without its `\n` or `\r\n`, advancing past it.
pub(crate) fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    if rest.is_empty() {
        return None;
    }
    let (line, tail) = match memchr::memchr(b'\n', rest) {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (*rest, &rest[rest.len()..]),
    };
    *rest = tail;
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// A line the `csv` reader skips (empty) or `read` skips (one field of spaces).
fn is_blank_line(line: &[u8], delimiter: u8) -> bool {
    line.trim_ascii().is_empty() && !line.contains(&delimiter)
}

/// One part's rows into `fill`, its stretch of each column: what it filled, the kinds after
/// it and its count of rows; `None` when a line is not plain or not a record of the width.
///
/// Only the lines `number_lines` does not take are checked for quotes and lone `\r`
/// (`is_plain`): the lines it takes hold nothing but digits, signs, points and delimiters, so
/// a check of every byte up front, a pass of its own over the file, is needless for them.
fn plain_rows(part: &[u8], delimiter: u8, mut kinds: Kinds, mut fill: Vec<Fill>) -> Option<(Vec<Filled>, Kinds, usize)> {
    let mut rest = part;
    let mut len = 0;
    // Lines `plain_row` reads before `number_lines` tries again after it took none: a file
    // whose every line has a missing value or some text would otherwise be read twice.
    let mut wait = 0;
    loop {
        if wait > 0 {
            wait -= 1;
        } else if number_lines(&mut rest, delimiter, &mut fill, &mut kinds, &mut len) == 0 {
            wait = NUMBER_LINES_WAIT;
        }
        let Some(line) = next_line(&mut rest) else { break };
        if !is_plain(line) {
            return None;
        }
        if is_blank_line(line, delimiter) {
            continue;
        }
        plain_row(line, delimiter, &mut fill, &mut kinds)?;
        len += 1;
    }
    Some((fill.into_iter().map(Fill::done).collect(), kinds, len))
}

/// The lines at the start of `rest` that are rows of the width's plain decimals while every
/// column is still numbers, read as `plain_row` reads them, leaving `rest` at the first line
/// that is not one (or blank). The numbers go straight into the slots after the `len` rows
/// before (`plain_row` keeps every column's count at `len`), without `plain_row`'s questions
/// for each field (what the column holds, which kind a cell is): on a numeric file this is
/// the whole loop. The count of lines it took.
fn number_lines(rest: &mut &[u8], delimiter: u8, fill: &mut [Fill], kinds: &mut Kinds, len: &mut usize) -> usize {
    if !fill.iter().all(|f| matches!(f, Fill::Slots { len: filled, .. } if filled == len)) {
        return 0;
    }
    let first = *len;
    while let Some(taken) = number_line(rest, delimiter, fill, *len) {
        *rest = &rest[taken..];
        *len += 1;
    }
    if *len > first {
        for (column, seen) in fill.iter_mut().zip(&mut kinds.seen_number) {
            if let Fill::Slots { len: filled, .. } = column {
                *filled = *len;
            }
            *seen = true;
        }
    }
    *len - first
}

/// See `plain_rows`: one line in this many is tried twice (a 1.5 % cost) when none are
/// numbers only.
const NUMBER_LINES_WAIT: usize = 64;

/// The line `text` starts with, when it is plain decimals, one a column, into row `row` of the
/// slots: the count of bytes it spans with its `\n` or `\r\n`. `None` when it is not that (its
/// numbers so far are then in slots `plain_row` writes again). The line's end is where its
/// last number ends, so it is not looked for first: `next_line`'s scan of the bytes was a
/// second pass over them (the parse of bench-parse's file on one core: 0.0748 s → 0.0703 s).
fn number_line(text: &[u8], delimiter: u8, fill: &mut [Fill], row: usize) -> Option<usize> {
    let mut rest = text;
    let last = fill.len().wrapping_sub(1);
    for (j, column) in fill.iter_mut().enumerate() {
        let Fill::Slots { slots, .. } = column else { return None };
        let (Some((value, len)), Some(slot)) = (plain_decimal(rest), slots.get_mut(row)) else { return None };
        *slot = value;
        match rest.get(len) {
            Some(b) if *b == delimiter && j != last => rest = &rest[len + 1..],
            Some(b'\n') if j == last => return Some(text.len() - rest.len() + len + 1),
            None if j == last => return Some(text.len()),
            Some(b'\r') if j == last && rest.get(len + 1) == Some(&b'\n') => return Some(text.len() - rest.len() + len + 2),
            _ => return None,
        }
    }
    None
}

/// One line's values onto `fill`'s columns, or `None` when it does not have the width's count
/// of fields (or a text field is not UTF-8). A number is parsed where it is found and its end
/// taken as the field's, so a numeric field's bytes are read once.
fn plain_row(line: &[u8], delimiter: u8, fill: &mut [Fill], kinds: &mut Kinds) -> Option<()> {
    let width = fill.len();
    let mut rest = line;
    for (j, column) in fill.iter_mut().enumerate() {
        let number = match column {
            Fill::Slots { .. } => plain_decimal(rest).filter(|(_, len)| rest.get(*len).is_none_or(|b| *b == delimiter)),
            Fill::Cells(_) => None,
        };
        let end = match (number, &mut *column) {
            (Some((value, len)), Fill::Slots { slots, len: filled }) => {
                kinds.seen_number[j] = true;
                put(slots, filled, value)?;
                len
            }
            _ => {
                let len = memchr::memchr(delimiter, rest).unwrap_or(rest.len());
                column.push(kinds.cell(j, &rest[..len]).ok()?)?;
                len
            }
        };
        // The field ends the line exactly when it is the last one.
        match (rest.get(end), j + 1 == width) {
            (None, true) => return Some(()),
            (Some(_), false) => rest = &rest[end + 1..],
            _ => return None,
        }
    }
    None
}

/// Below this a second thread costs more than it saves.
const PARALLEL_BYTES: usize = 1 << 20;

/// `bytes` cut into about `n` parts, each ending at a line end.
fn chunks(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let n = if bytes.len() < PARALLEL_BYTES { 1 } else { n.max(1) };
    let mut parts = Vec::with_capacity(n);
    let mut rest = bytes;
    for i in (1..n).rev() {
        let target = rest.len() / (i + 1);
        let Some(cut) = memchr::memchr(b'\n', &rest[target..]).map(|p| target + p + 1) else { break };
        let (part, tail) = rest.split_at(cut);
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    parts
}

/// Gives cells of `mixed` columns that were stored as numbers their text as written; the
/// columns start with the file's first record when it is a row (`first_is_row`), else with the
/// second.
fn respell(bytes: &[u8], delimiter: u8, mixed: &[bool], first_is_row: bool, columns: &mut [RawColumn]) -> Result<(), TableError> {
    let mut rdr = reader(bytes, delimiter, false);
    let mut record = ::csv::ByteRecord::new();
    let mut i = 0;
    let mut skip = !first_is_row;
    while rdr.read_byte_record(&mut record).map_err(describe)? {
        if is_blank(&record) {
            continue;
        }
        if skip {
            skip = false;
            continue;
        }
        for (j, field) in record.iter().enumerate() {
            if mixed.get(j).copied().unwrap_or(false) {
                let cell = match columns.get_mut(j) {
                    Some(RawColumn::Cells(cells)) => cells.get_mut(i),
                    _ => None,
                };
                if let Some(cell @ Cell::Number(_)) = cell {
                    let text = std::str::from_utf8(field).map_err(|_| not_utf8(&record, j))?;
                    *cell = Cell::Text(text.to_owned());
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// A record at `line` with `len` fields under a first line of `expected`.
fn unequal(line: u64, expected: usize, len: usize) -> TableError {
    TableError::Invalid {
        at: Location::Line { line, field: None },
        message: format!("expected {expected} fields like the first line, found {len}"),
    }
}

pub(crate) fn describe(err: ::csv::Error) -> TableError {
    use ::csv::ErrorKind;
    match err.kind() {
        ErrorKind::UnequalLengths { pos, expected_len, len } => {
            unequal(pos.as_ref().map_or(0, |p| p.line()), *expected_len as usize, *len as usize)
        }
        ErrorKind::Utf8 { pos, err: bad } => TableError::Invalid {
            at: Location::Line { line: pos.as_ref().map_or(0, |p| p.line()), field: Some(bad.field() as u64 + 1) },
            message: "the text is not UTF-8; save the file as UTF-8 and try again".into(),
        },
        _ => TableError::Unreadable { format: "CSV".into(), message: err.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn fast_numbers_are_bit_for_bit_std() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut fields: Vec<String> = [
            "0",
            "-0",
            "-0.000",
            "+0.0",
            "+1",
            "5.",
            ".5",
            "-.5",
            "1.",
            ".",
            "-",
            "+",
            "",
            " 1.5",
            "1.5 ",
            "1e3",
            "1E-3",
            "nan",
            "inf",
            "-inf",
            "1.2.3",
            "0x10",
            "007",
            "1,5",
            "0.1",
            "0.30000000000000004",
            "12345678901234567",
            "9007199254740993",
            "1.0000000000000002",
            "٣",
            "1٣",
            "1234567٣",
            "1.2345678é",
            "12345678/9",
            "1234567:89",
            // Past 15 digits (fast-float2's part): exponents, over- and underflow, odd ends.
            "-0.12345678901234567",
            "+12345678901234567",
            "12345678901234567.",
            "1234567890123456e5",
            "1234567890123456.5e-400",
            "12345678901234567e400",
            "-12345678901234567E+2",
            "12345678901234567e",
            "12345678901234567x",
            "1234567890123456.7.8",
            "1234567890123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000000000000000000000000000001234567890123456789",
        ]
        .map(str::to_owned)
        .to_vec();
        for _ in 0..20_000 {
            let digits = rng.random_range(1..20);
            let point = rng.random_range(0..=digits);
            let mut s: String = (0..digits).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
            s.insert(point, '.');
            if rng.random_bool(0.5) {
                s.insert(0, '-');
            }
            fields.push(s);
        }
        // Doubles as programs write them to read back exactly: 16 or 17 significant digits.
        for _ in 0..20_000 {
            let x = rng.random_range(-1.0..1.0f64) * 10f64.powi(rng.random_range(-30..30));
            fields.push(format!("{x}"));
            fields.push(format!("{x:e}"));
            fields.push(format!("{x:.17}"));
        }
        for f in &fields {
            let std = parse_number(f);
            let fast = parse_number_bytes(f.as_bytes());
            assert_eq!(fast.map(f64::to_bits), std.map(f64::to_bits), "{f:?}");
            // Inside a line, where the eight-byte reads run past the field's end.
            let within = format!("{f},12345678,-9.5");
            let alone = plain_decimal(f.as_bytes()).map(|(x, len)| (x.to_bits(), len));
            assert_eq!(plain_decimal(within.as_bytes()).map(|(x, len)| (x.to_bits(), len)), alone, "{within:?}");
        }
    }

    /// Both readers' header, columns (as cells) and mixed columns, checked equal.
    fn both(text: &str, text_columns: &[bool]) -> (Vec<String>, Vec<Vec<Cell>>, Vec<bool>) {
        let bytes = text.as_bytes();
        let d = detect_delimiter(bytes);
        let cells = |b: &Body| b.columns.iter().cloned().map(RawColumn::into_cells).collect::<Vec<_>>();
        let (first, body) = read(bytes, d, text_columns).unwrap();
        let (pf, pb) = plain(bytes, d, text_columns).unwrap_or_else(|| panic!("the plain reader takes {text:?}"));
        assert_eq!((&pf, cells(&pb), pb.len, pb.kinds.mixed()), (&first, cells(&body), body.len, body.kinds.mixed()), "{text:?}");
        (first, cells(&body), body.kinds.mixed())
    }

    #[test]
    fn the_plain_reader_yields_the_csv_readers_records() {
        use super::super::{Format, Table};
        both("a,b\n1,2\n3,x\n", &[]);
        both("\n\n  \na;b\r\n1;2\r\n\r\n  \r\n3;\r\n", &[]);
        both("a\tb\n1\t2\n-\t \n", &[false, true]);
        both("x\n1\n2\n\n", &[]);
        both("a,b,c\n1,,\n,2,\n,,3.5\n-,+,.\n", &[]);
        both("a;b\n1.5;2e3\n 1;1 \n", &[]);
        both("a,b\n0.12345678901234567,-1234567890123456789e-3\n12345678901234567e999,1\n", &[]);
        let (_, columns, mixed) = both("a,b\n007,1\nx,2\n", &[]);
        assert_eq!((columns[0][0].clone(), mixed), (Cell::Number(7.0), vec![true, false]));
        // Two threads' parts: the second holds the text that makes column a mixed.
        let mut big = String::from("a,b\n");
        for i in 0..200_000 {
            big.push_str(&format!("{i}.25,{}\n", i % 7));
        }
        big.push_str("text,1\n");
        let (_, columns, mixed) = both(&big, &[]);
        assert_eq!((columns[0].len(), mixed), (200_001, vec![true, false]));
        // Blank lines throughout (their slots closed up behind each part), text early in
        // column b (the first part's stretch turns to cells, the second's numbers follow), a
        // column c declared text: the table is the general reader's (a quote sends the file
        // there), the numbers the second part read before it knew of the text respelled.
        let mut big = String::from("a,b,c\n");
        for i in 0..200_000 {
            if i % 1_000 == 0 {
                big.push('\n');
            }
            let b = if i == 5 { "x".to_owned() } else { format!("{}.0", i % 7) };
            big.push_str(&format!("{i}.5,{b},{i}\n"));
        }
        let quoted = big.replacen("0.5,", "\"0.5\",", 1);
        let mut declared = Table::parse(big.as_bytes(), Format::Csv, &ParseOptions::default()).unwrap().columns;
        declared[2].kind = super::super::ColumnKind::Categorical;
        let (plain_table, general) = [&big, &quoted]
            .map(|text| Table::parse_declared(text.as_bytes(), Format::Csv, &ParseOptions::default(), &declared).unwrap())
            .into();
        assert!(plain(big.as_bytes(), b',', &[false, false, true]).is_some() && plain(quoted.as_bytes(), b',', &[]).is_none());
        assert_eq!(plain_table, general);
        assert_eq!((plain_table.len(), plain_table.columns[1].kind), (200_000, super::super::ColumnKind::Categorical));
        // Runs of lines of numbers only (`number_lines`) broken by missing values (a hundred
        // in a row, past `NUMBER_LINES_WAIT`), blank lines and text, in both parts; a quote or
        // a lone `\r` after such a run still sends the file to the general reader.
        let mut runs = String::from("a,b\n");
        for i in 0..150_000 {
            runs.push_str(&match i % 1_000 {
                0 => format!("{i},\n"),
                1..=100 if i > 100_000 => format!(",{i}\n"),
                500 => "\n".to_owned(),
                _ if i == 120_700 => "x,1\n".to_owned(),
                _ => format!("{i}.5,-{i}\n"),
            });
        }
        let (_, columns, mixed) = both(&runs, &[]);
        assert_eq!((columns[0].len(), mixed), (149_850, vec![true, false]));
        for bad in ["3\r,4\n", "\"3\",4\n", "3,4\r\r\n"] {
            assert!(plain(format!("{runs}{bad}").as_bytes(), b',', &[]).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn files_the_plain_reader_leaves_to_the_csv_reader() {
        for text in ["a,b\n\"1\",2\n", "a,b\r1,2\r", "a,b\n1,2,3\n", "a,b\n1\n", "a,b\n1,2,\n", "a,b\n1.5\n"] {
            assert!(plain(text.as_bytes(), b',', &[]).is_none(), "{text:?}");
        }
        let bytes = b"a,b\n\xff,1\n";
        assert!(plain(bytes, b',', &[]).is_none());
        let err = read(bytes, b',', &[]).err().unwrap();
        assert_eq!(err.to_string(), "line 2, field 1: the text is not UTF-8; save the file as UTF-8 and try again");
    }

    /// A reader handing out at most `step` bytes a call, as a decrypting reader does.
    struct Trickle<'a> {
        rest: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.step).min(self.rest.len());
            out[..n].copy_from_slice(&self.rest[..n]);
            self.rest = &self.rest[n..];
            Ok(n)
        }
    }

    /// `parse_stream` in windows of several sizes gives what `Table::parse_declared` gives the
    /// whole file: the same table, or the same error.
    fn streams_as_whole(text: &[u8], options: &ParseOptions, declared: &[super::super::Column]) -> Result<super::super::Table, TableError> {
        use super::super::{Format, Table};
        let whole = Table::parse_declared(text, Format::Csv, options, declared);
        let text_columns = super::super::text_columns(declared);
        for (window, step) in [(1000, 777), (4096, 1 << 20), (70_000, 13)] {
            let input = Trickle { rest: text, step };
            let streamed =
                parse_stream(input, options, &text_columns, 10, window).and_then(|raw| super::super::infer::finish(raw, Some(declared)));
            assert_eq!(streamed, whole, "window {window}, reads of {step}");
        }
        whole
    }

    /// A file over the first window (64 KiB): `rows` rows of a count, a measure and a code,
    /// `row(i)` replacing row i where it gives one.
    fn file(header: &str, rows: usize, row: impl Fn(usize) -> Option<String>, end: &str) -> Vec<u8> {
        let mut s = String::from(header);
        for i in 0..rows {
            s.push_str(&row(i).unwrap_or_else(|| format!("{i},{}.5,{:03}", i % 97, i % 11)));
            s.push_str(end);
        }
        s.into_bytes()
    }

    #[test]
    fn a_file_read_a_window_at_a_time_parses_as_the_whole_file() {
        use super::super::{Format, Table};
        let options = ParseOptions::default();
        let base = file("n,x,code\n", 12_000, |_| None, "\n");
        assert!(base.len() > 2 * SAMPLE_BYTES);
        let declared = Table::parse(&base, Format::Csv, &options).unwrap().columns;
        let table = streams_as_whole(&base, &options, &declared).unwrap();
        assert_eq!(table.len(), 12_000);
        // Codes declared categorical keep their spelling ("007") in every window.
        let mut codes = declared.clone();
        codes[2].kind = super::super::ColumnKind::Categorical;
        streams_as_whole(&base, &options, &codes).unwrap();

        let late = |at: usize, text: &'static str| move |i: usize| (i == at).then(|| text.to_owned());
        let ok = [
            // A quote, a lone \r, a line longer than any window, all after the first window.
            file("n,x,code\n", 12_000, late(10_000, "\"7,000\",1.5,\"a \"\"quoted\"\" code\""), "\n"),
            file("n,x,code\n", 12_000, late(10_000, "1,2,3\r4,5,6"), "\n"),
            file("n,x,code\n", 12_000, |i| (i == 9_000).then(|| format!("1,2,{}", "long ".repeat(3_000))), "\n"),
            file("n,x,code\r\n", 12_000, |_| None, "\r\n"),
            // Blank lines between rows and at the end, and no line end after the last row.
            file("\n\nn,x,code\n", 12_000, |i| (i % 1_000 == 0).then(|| format!("{i},1,2\n\n ,, ")), "\n"),
            [b"\xEF\xBB\xBF".as_slice(), &base].concat(),
            base[..base.len() - 1].to_vec(),
            // No header: the first line is a row.
            file("", 12_000, |_| None, "\n"),
            // Semicolons, found from the first window.
            file("n;x;code\n", 12_000, |i| Some(format!("{i};{i}.25;c{}", i % 3)), "\n"),
        ];
        for text in &ok {
            let declared = Table::parse(text, Format::Csv, &options).unwrap().columns;
            streams_as_whole(text, &options, &declared).unwrap_or_else(|e| panic!("{e}"));
        }
        let header = ParseOptions { header: Some(false), ..ParseOptions::default() };
        let declared = Table::parse(&base, Format::Csv, &header).unwrap().columns;
        assert_eq!(streams_as_whole(&base, &header, &declared).unwrap().len(), 12_001);

        // Errors name the same line as the whole file's.
        let bad = [
            (file("n,x,code\n", 12_000, late(11_500, "1,2"), "\n"), "line 11502: expected 3 fields like the first line, found 2"),
            (file("n,x,code\n", 12_000, late(11_500, "\"1,2,3"), "\n"), ""),
            ([file("n,x,code\n", 12_000, |_| None, "\n"), b"1,\xff,3\n".to_vec()].concat(), "line 12002, field 2"),
            (
                file("n,x,code\n", 12_000, late(11_900, "1,two,3"), "\n"),
                "column “x” was declared numeric but its values read as categorical",
            ),
        ];
        for (text, message) in &bad {
            let err = streams_as_whole(text, &options, &declared_of(&base)).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
        // Shorter than a window: the whole file at once.
        streams_as_whole(b"a,b\n1,2\n", &options, &Table::parse(b"a,b\n1,2\n", Format::Csv, &options).unwrap().columns).unwrap();
        assert!(streams_as_whole(b"", &options, &declared).is_err());
    }

    fn declared_of(text: &[u8]) -> Vec<super::super::Column> {
        super::super::Table::parse(text, super::super::Format::Csv, &ParseOptions::default()).unwrap().columns
    }
}
