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

fn normalise(cell: RawCell) -> RawCell {
    match cell {
        RawCell::Text(s) if is_missing_text(&s) => RawCell::Missing,
        RawCell::Number(n) if !n.is_finite() => RawCell::Missing,
        other => other,
    }
}

fn kind_of(rows: &[Vec<RawCell>], col: usize) -> ColumnKind {
    let values = rows.iter().map(|r| &r[col]).filter(|c| !matches!(c, RawCell::Missing));
    let (mut all_bool, mut all_num) = (true, true);
    for v in values {
        match v {
            RawCell::Bool(_) => all_num = false,
            RawCell::Number(_) => all_bool = false,
            RawCell::Text(s) => {
                all_bool &= parse_bool(s).is_some();
                all_num &= parse_number(s).is_some();
            }
            RawCell::Missing => {}
        }
        if !all_bool && !all_num {
            return ColumnKind::Categorical;
        }
    }
    // A column with no values at all counts as numeric: it imputes cleanly and never becomes a category.
    if all_num {
        ColumnKind::Numeric
    } else {
        ColumnKind::Boolean
    }
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

/// Whether every value of column `col` reads as `kind` (categorical takes anything).
fn fits(rows: &[Vec<RawCell>], col: usize, kind: ColumnKind) -> bool {
    rows.iter().map(|r| &r[col]).all(|v| match (v, kind) {
        (RawCell::Missing, _) | (_, ColumnKind::Categorical) => true,
        (RawCell::Number(_), ColumnKind::Numeric) | (RawCell::Bool(_), ColumnKind::Boolean) => true,
        (RawCell::Text(s), ColumnKind::Numeric) => parse_number(s).is_some(),
        (RawCell::Text(s), ColumnKind::Boolean) => parse_bool(s).is_some(),
        _ => false,
    })
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
    names
        .iter()
        .zip(declared)
        .enumerate()
        .map(|(col, (name, d))| {
            if *name != d.name {
                return Err(mismatch(format!("a column is named “{name}” in the file but “{}” in the declaration", d.name)));
            }
            if fits(rows, col, d.kind) {
                Ok(d.kind)
            } else {
                let found = kind_of(rows, col).as_str();
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
    let rows: Vec<Vec<RawCell>> = rows.into_iter().map(|r| r.into_iter().map(normalise).collect()).collect();
    let kinds: Vec<ColumnKind> = match declared {
        Some(declared) => declared_kinds(&names, &rows, declared)?,
        None => (0..names.len()).map(|c| kind_of(&rows, c)).collect(),
    };
    let rows = rows.into_iter().map(|r| r.into_iter().zip(&kinds).map(|(cell, k)| convert(cell, *k)).collect()).collect();
    let columns = names.into_iter().zip(kinds).map(|(name, kind)| Column { name, kind }).collect();
    Ok(Table { columns, rows })
}
