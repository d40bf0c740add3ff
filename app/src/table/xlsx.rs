//! Excel workbooks (.xlsx) through calamine: the first sheet or a chosen one, first row as header.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

use super::{Cell, Location, ParseOptions, RawTable, TableError};

/// A1-style address, so an error points at the cell a person would click.
fn address(row: u32, col: u32) -> String {
    let mut letters = Vec::new();
    let mut c = col + 1;
    while c > 0 {
        let rem = ((c - 1) % 26) as u8;
        letters.push((b'A' + rem) as char);
        c = (c - 1) / 26;
    }
    letters.iter().rev().collect::<String>() + &(row + 1).to_string()
}

pub(crate) fn parse(bytes: &[u8], options: &ParseOptions) -> Result<RawTable, TableError> {
    let unreadable = |e: calamine::XlsxError| TableError::Unreadable { format: "Excel (.xlsx)".into(), message: e.to_string() };
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let sheets = book.sheet_names();
    let sheet = match &options.sheet {
        Some(name) if !sheets.contains(name) => return Err(TableError::UnknownSheet { name: name.clone(), available: sheets.join(", ") }),
        Some(name) => name.clone(),
        None => sheets.first().cloned().ok_or_else(|| TableError::Empty("the workbook has no sheets".into()))?,
    };
    let range = book.worksheet_range(&sheet).map_err(unreadable)?;
    let Some((row0, col0)) = range.start() else {
        return Err(TableError::Empty(format!("sheet “{sheet}” is empty")));
    };
    let mut rows = range.rows();
    let header = rows.next().unwrap_or_default();
    let names: Vec<String> = header
        .iter()
        .map(|c| match c {
            Data::Empty => String::new(),
            other => other.to_string(),
        })
        .collect();
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let mut cells = Vec::with_capacity(row.len());
        for (j, cell) in row.iter().enumerate() {
            cells.push(match cell {
                Data::Empty => Cell::Missing,
                Data::Int(n) => Cell::Number(*n as f64),
                Data::Float(f) => Cell::Number(*f),
                Data::Bool(b) => Cell::Bool(*b),
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
                Data::DateTime(d) => Cell::Text(d.to_string()),
                Data::Error(e) => {
                    return Err(TableError::Invalid {
                        at: Location::Cell { sheet, cell: address(row0 + 1 + i as u32, col0 + j as u32) },
                        message: format!("the cell holds the spreadsheet error {e}; fix or clear it in Excel"),
                    })
                }
            });
        }
        out.push(cells);
    }
    Ok(RawTable::from_rows(super::unique_names(names), out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_read_like_excel() {
        assert_eq!(super::address(0, 0), "A1");
        assert_eq!(super::address(4, 25), "Z5");
        assert_eq!(super::address(9, 26), "AA10");
        assert_eq!(super::address(0, 701), "ZZ1");
        assert_eq!(super::address(0, 702), "AAA1");
    }
}
