//! Deciding each column's kind from all its values, then converting the cells.

use super::{Cell, Column, ColumnKind, RawTable, Table, TableError};

/// Spellings of "no value" seen in exported spreadsheets and R/pandas output.
const MISSING: [&str; 7] = ["", "na", "n/a", "nan", "null", "none", "?"];

pub(crate) fn is_missing_text(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || MISSING.iter().any(|m| t.eq_ignore_ascii_case(m))
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Finite numbers only: "inf" in a data file is far more often a typo than a measurement.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A cell that inference treats as missing: no value, a spelling of "no value", or a
/// non-finite number.
fn is_blank(cell: &Cell) -> bool {
    match cell {
        Cell::Missing => true,
        Cell::Text(s) => is_missing_text(s),
        Cell::Number(n) => !n.is_finite(),
        Cell::Bool(_) => false,
    }
}

fn normalise(cell: Cell) -> Cell {
    if is_blank(&cell) {
        Cell::Missing
    } else {
        cell
    }
}

/// Every column's kind from all its values, in one pass over the rows in memory order (a
/// pass per column strides across every row and was most of the time spent here). Columns
/// the reader already knows to be numeric (`known[j]`) are not looked at; when that is all
/// of them there is no pass at all.
fn kinds_of(rows: &[Vec<Cell>], width: usize, known: &[bool]) -> Vec<ColumnKind> {
    if known.iter().all(|k| *k) {
        return vec![ColumnKind::Numeric; width];
    }
    let (mut all_num, mut all_bool) = (vec![true; width], vec![true; width]);
    for row in rows {
        for (j, v) in row.iter().enumerate() {
            if !(all_num[j] || all_bool[j]) || is_blank(v) {
                continue;
            }
            match v {
                Cell::Bool(_) => all_num[j] = false,
                Cell::Number(_) => all_bool[j] = false,
                Cell::Text(s) => {
                    all_bool[j] &= parse_bool(s).is_some();
                    all_num[j] &= parse_number(s).is_some();
                }
                Cell::Missing => {}
            }
        }
    }
    // A column with no values at all counts as numeric: it imputes cleanly and never becomes a category.
    all_num
        .into_iter()
        .zip(all_bool)
        .map(|kinds| match kinds {
            (true, _) => ColumnKind::Numeric,
            (false, true) => ColumnKind::Boolean,
            (false, false) => ColumnKind::Categorical,
        })
        .collect()
}

pub(crate) fn convert(cell: Cell, kind: ColumnKind) -> Cell {
    match (cell, kind) {
        (Cell::Missing, _) => Cell::Missing,
        (Cell::Number(n), ColumnKind::Numeric) => Cell::Number(n),
        (Cell::Text(s), ColumnKind::Numeric) => parse_number(&s).map_or(Cell::Missing, Cell::Number),
        (Cell::Bool(b), ColumnKind::Boolean) => Cell::Bool(b),
        (Cell::Text(s), ColumnKind::Boolean) => parse_bool(&s).map_or(Cell::Missing, Cell::Bool),
        // Most text is already trimmed: keep its allocation.
        (Cell::Text(s), _) if s.trim().len() == s.len() => Cell::Text(s),
        (Cell::Text(s), _) => Cell::Text(s.trim().to_string()),
        (Cell::Number(n), _) => Cell::Text(n.to_string()),
        (Cell::Bool(b), _) => Cell::Text(b.to_string()),
    }
}

/// Per column, whether every value reads as `kinds[j]` (categorical takes anything), in one
/// pass in memory order like `kinds_of`. Columns that fit whatever they hold (categorical, or
/// numeric and known numeric) are not looked at.
fn fitting(rows: &[Vec<Cell>], kinds: &[ColumnKind], known: &[bool]) -> Vec<bool> {
    let settled: Vec<bool> =
        kinds.iter().enumerate().map(|(j, k)| *k == ColumnKind::Categorical || (*k == ColumnKind::Numeric && known[j])).collect();
    let mut fit = vec![true; kinds.len()];
    if settled.iter().all(|s| *s) {
        return fit;
    }
    for row in rows {
        for (((v, kind), fit), settled) in row.iter().zip(kinds).zip(fit.iter_mut()).zip(&settled) {
            *fit = *settled
                || *fit
                    && (is_blank(v)
                        || match (v, kind) {
                            (Cell::Number(_), ColumnKind::Numeric) | (Cell::Bool(_), ColumnKind::Boolean) => true,
                            (Cell::Text(s), ColumnKind::Numeric) => parse_number(s).is_some(),
                            (Cell::Text(s), ColumnKind::Boolean) => parse_bool(s).is_some(),
                            _ => false,
                        });
        }
    }
    fit
}

/// The kinds a declared schema gives, where the values allow them: a column declared
/// categorical whose values read as numbers (a postcode, a code like `007`) is categorical,
/// each value its text as written; a declaration the values do not fit is an error that names
/// the column and both kinds.
fn declared_kinds(names: &[String], rows: &[Vec<Cell>], known: &[bool], declared: &[Column]) -> Result<Vec<ColumnKind>, TableError> {
    let mismatch = |message: String| TableError::Declaration { message };
    if declared.len() != names.len() {
        return Err(mismatch(format!("the file has {} columns but was declared with {}", names.len(), declared.len())));
    }
    let wanted: Vec<ColumnKind> = declared.iter().map(|d| d.kind).collect();
    let fit = fitting(rows, &wanted, known);
    let mut found: Option<Vec<ColumnKind>> = None;
    names
        .iter()
        .zip(declared)
        .enumerate()
        .map(|(col, (name, d))| {
            if *name != d.name {
                return Err(mismatch(format!("a column is named “{name}” in the file but “{}” in the declaration", d.name)));
            }
            if fit[col] {
                Ok(d.kind)
            } else {
                let found = found.get_or_insert_with(|| kinds_of(rows, names.len(), known))[col].as_str();
                Err(mismatch(format!("column “{name}” was declared {} but its values read as {found}", d.kind.as_str())))
            }
        })
        .collect()
}

pub(crate) fn finish(raw: RawTable, declared: Option<&[Column]>) -> Result<Table, TableError> {
    let RawTable { names, mut rows, numeric } = raw;
    // One flag per column (a reader that does not know says nothing: all false).
    let known: Vec<bool> = (0..names.len()).map(|j| numeric.get(j).copied().unwrap_or(false)).collect();
    if names.is_empty() {
        return Err(TableError::Empty("no columns were found".into()));
    }
    if rows.is_empty() {
        return Err(TableError::Empty("there is a header but no rows under it".into()));
    }
    let kinds: Vec<ColumnKind> = match declared {
        Some(declared) => declared_kinds(&names, &rows, &known, declared)?,
        None => kinds_of(&rows, names.len(), &known),
    };
    // Cells are rewritten in place, and only in columns whose cells may change: a numeric
    // column the reader parsed as it read (most of a training set) is left as it is.
    let unsettled: Vec<usize> = (0..kinds.len()).filter(|&j| !(kinds[j] == ColumnKind::Numeric && known[j])).collect();
    if !unsettled.is_empty() {
        for row in &mut rows {
            for &j in &unsettled {
                if let Some(cell) = row.get_mut(j) {
                    *cell = convert(normalise(std::mem::replace(cell, Cell::Missing)), kinds[j]);
                }
            }
        }
    }
    let columns = names.into_iter().zip(kinds).map(|(name, kind)| Column { name, kind }).collect();
    Ok(Table { columns, rows })
}
