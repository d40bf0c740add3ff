//! Deciding each column's kind from all its values, then converting the cells.

use super::{Cell, Column, ColumnKind, RawColumn, RawTable, Table, TableError, Values};

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

/// A column's kind from all its values. A column of numbers the reader parsed as it read is
/// numeric without another look.
fn kind_of(column: &RawColumn) -> ColumnKind {
    let RawColumn::Cells(cells) = column else { return ColumnKind::Numeric };
    let (mut all_num, mut all_bool) = (true, true);
    for v in cells {
        if !(all_num || all_bool) {
            break;
        }
        if is_blank(v) {
            continue;
        }
        match v {
            Cell::Bool(_) => all_num = false,
            Cell::Number(_) => all_bool = false,
            Cell::Text(s) => {
                all_bool &= parse_bool(s).is_some();
                all_num &= parse_number(s).is_some();
            }
            Cell::Missing => {}
        }
    }
    // A column with no values at all counts as numeric: it imputes cleanly and never becomes a category.
    match (all_num, all_bool) {
        (true, _) => ColumnKind::Numeric,
        (false, true) => ColumnKind::Boolean,
        (false, false) => ColumnKind::Categorical,
    }
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

/// Whether every value of `column` reads as `kind` (categorical takes anything).
fn fits(column: &RawColumn, kind: ColumnKind) -> bool {
    match (column, kind) {
        (_, ColumnKind::Categorical) | (RawColumn::Numbers(_), ColumnKind::Numeric) => true,
        (RawColumn::Numbers(v), ColumnKind::Boolean) => v.iter().all(|n| n.is_nan()),
        (RawColumn::Cells(cells), _) => cells.iter().all(|v| {
            is_blank(v)
                || match (v, kind) {
                    (Cell::Number(_), ColumnKind::Numeric) | (Cell::Bool(_), ColumnKind::Boolean) => true,
                    (Cell::Text(s), ColumnKind::Numeric) => parse_number(s).is_some(),
                    (Cell::Text(s), ColumnKind::Boolean) => parse_bool(s).is_some(),
                    _ => false,
                }
        }),
    }
}

/// The kinds a declared schema gives, where the values allow them: a column declared
/// categorical whose values read as numbers (a postcode, a code like `007`) is categorical,
/// each value its text as written; a declaration the values do not fit is an error that names
/// the column and both kinds.
fn declared_kinds(names: &[String], columns: &[RawColumn], declared: &[Column]) -> Result<Vec<ColumnKind>, TableError> {
    let mismatch = |message: String| TableError::Declaration { message };
    if declared.len() != names.len() {
        return Err(mismatch(format!("the file has {} columns but was declared with {}", names.len(), declared.len())));
    }
    names
        .iter()
        .zip(columns)
        .zip(declared)
        .map(|((name, column), d)| {
            if *name != d.name {
                return Err(mismatch(format!("a column is named “{name}” in the file but “{}” in the declaration", d.name)));
            }
            if fits(column, d.kind) {
                Ok(d.kind)
            } else {
                Err(mismatch(format!(
                    "column “{name}” was declared {} but its values read as {}",
                    d.kind.as_str(),
                    kind_of(column).as_str()
                )))
            }
        })
        .collect()
}

/// A column of `kind` from its values as read: a column of numbers parsed as read stays as it
/// is (most of a training set); other cells are normalised and converted.
pub(crate) fn settle(column: RawColumn, kind: ColumnKind) -> Values {
    match (column, kind) {
        (RawColumn::Numbers(v), ColumnKind::Numeric) => Values::Numbers(v),
        (column, kind) => Values::from_cells(kind, column.into_cells().into_iter().map(|c| convert(normalise(c), kind))),
    }
}

pub(crate) fn finish(raw: RawTable, declared: Option<&[Column]>) -> Result<Table, TableError> {
    let RawTable { names, columns, len } = raw;
    if names.is_empty() {
        return Err(TableError::Empty("no columns were found".into()));
    }
    if len == 0 {
        return Err(TableError::Empty("there is a header but no rows under it".into()));
    }
    let kinds: Vec<ColumnKind> = match declared {
        Some(declared) => declared_kinds(&names, &columns, declared)?,
        None => columns.iter().map(kind_of).collect(),
    };
    let values = columns.into_iter().zip(&kinds).map(|(c, k)| settle(c, *k)).collect();
    let columns = names.into_iter().zip(kinds).map(|(name, kind)| Column { name, kind }).collect();
    Ok(Table::from_values(columns, values, len))
}
