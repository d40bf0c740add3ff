//! Deciding each column's kind from all its values, then converting the cells.

use super::{Cell, Column, ColumnKind, RawCell, RawTable, Table, TableError};

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
fn is_blank(cell: &RawCell) -> bool {
    match cell {
        RawCell::Missing => true,
        RawCell::Text(s) => is_missing_text(s),
        RawCell::Number(n) => !n.is_finite(),
        RawCell::Bool(_) => false,
    }
}

fn normalise(cell: RawCell) -> RawCell {
    if is_blank(&cell) {
        RawCell::Missing
    } else {
        cell
    }
}

/// Every column's kind from all its values, in one pass over the rows in memory order (a
/// pass per column strides across every row and was most of the time spent here).
fn kinds_of(rows: &[Vec<RawCell>], width: usize) -> Vec<ColumnKind> {
    let (mut all_num, mut all_bool) = (vec![true; width], vec![true; width]);
    for row in rows {
        for (j, v) in row.iter().enumerate() {
            if !(all_num[j] || all_bool[j]) || is_blank(v) {
                continue;
            }
            match v {
                RawCell::Bool(_) => all_num[j] = false,
                RawCell::Number(_) => all_bool[j] = false,
                RawCell::Text(s) => {
                    all_bool[j] &= parse_bool(s).is_some();
                    all_num[j] &= parse_number(s).is_some();
                }
                RawCell::Missing => {}
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

pub(crate) fn convert(cell: RawCell, kind: ColumnKind) -> Cell {
    match (cell, kind) {
        (RawCell::Missing, _) => Cell::Missing,
        (RawCell::Number(n), ColumnKind::Numeric) => Cell::Number(n),
        (RawCell::Text(s), ColumnKind::Numeric) => parse_number(&s).map_or(Cell::Missing, Cell::Number),
        (RawCell::Bool(b), ColumnKind::Boolean) => Cell::Bool(b),
        (RawCell::Text(s), ColumnKind::Boolean) => parse_bool(&s).map_or(Cell::Missing, Cell::Bool),
        (RawCell::Text(s), _) => Cell::Text(s.trim().to_string()),
        (RawCell::Number(n), _) => Cell::Text(n.to_string()),
        (RawCell::Bool(b), _) => Cell::Text(b.to_string()),
    }
}

/// Per column, whether every value reads as `kinds[j]` (categorical takes anything), in one
/// pass in memory order like `kinds_of`.
fn fitting(rows: &[Vec<RawCell>], kinds: &[ColumnKind]) -> Vec<bool> {
    let mut fit = vec![true; kinds.len()];
    for row in rows {
        for ((v, kind), fit) in row.iter().zip(kinds).zip(fit.iter_mut()) {
            *fit = *fit
                && (is_blank(v)
                    || match (v, kind) {
                        (_, ColumnKind::Categorical) => true,
                        (RawCell::Number(_), ColumnKind::Numeric) | (RawCell::Bool(_), ColumnKind::Boolean) => true,
                        (RawCell::Text(s), ColumnKind::Numeric) => parse_number(s).is_some(),
                        (RawCell::Text(s), ColumnKind::Boolean) => parse_bool(s).is_some(),
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
fn declared_kinds(names: &[String], rows: &[Vec<RawCell>], declared: &[Column]) -> Result<Vec<ColumnKind>, TableError> {
    let mismatch = |message: String| TableError::Declaration { message };
    if declared.len() != names.len() {
        return Err(mismatch(format!("the file has {} columns but was declared with {}", names.len(), declared.len())));
    }
    let wanted: Vec<ColumnKind> = declared.iter().map(|d| d.kind).collect();
    let fit = fitting(rows, &wanted);
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
                let found = found.get_or_insert_with(|| kinds_of(rows, names.len()))[col].as_str();
                Err(mismatch(format!("column “{name}” was declared {} but its values read as {found}", d.kind.as_str())))
            }
        })
        .collect()
}

pub(crate) fn finish(raw: RawTable, declared: Option<&[Column]>) -> Result<Table, TableError> {
    let RawTable { names, rows } = raw;
    if names.is_empty() {
        return Err(TableError::Empty("no columns were found".into()));
    }
    if rows.is_empty() {
        return Err(TableError::Empty("there is a header but no rows under it".into()));
    }
    let kinds: Vec<ColumnKind> = match declared {
        Some(declared) => declared_kinds(&names, &rows, declared)?,
        None => kinds_of(&rows, names.len()),
    };
    // Each row converted in its own allocation (`RawCell` and `Cell` are the same size).
    let rows = rows.into_iter().map(|r| r.into_iter().zip(&kinds).map(|(cell, k)| convert(normalise(cell), *k)).collect()).collect();
    let columns = names.into_iter().zip(kinds).map(|(name, kind)| Column { name, kind }).collect();
    Ok(Table { columns, rows })
}
