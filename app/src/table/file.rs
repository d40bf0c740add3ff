//! A whole file as a table, its format from its name: what the browser's worker, the CLI's
//! client commands and a federation participant read.

use serde_json::{Map, Value};

use super::{Format, ParseOptions, Table};

/// The file's format from its name, or a message naming the formats we read.
pub fn format_of(file_name: &str) -> Result<Format, String> {
    Format::from_file_name(file_name).ok_or_else(|| format!("“{file_name}” is not a .csv, .tsv, .txt, .json, .jsonl or .xlsx file"))
}

/// A whole file as a table.
pub fn read_table(bytes: &[u8], file_name: &str) -> Result<Table, String> {
    Table::parse(bytes, format_of(file_name)?, &ParseOptions::default()).map_err(|e| e.to_string())
}

/// A file of rows to predict as `{column: value}` objects (missing values as null), at most
/// `limit` rows: the rows a prediction request carries.
pub fn rows_for_prediction(bytes: &[u8], file_name: &str, limit: usize) -> Result<Vec<Map<String, Value>>, String> {
    let table = read_table(bytes, file_name)?;
    if table.len() > limit {
        return Err(format!("the file has {} rows; predict at most {limit} at a time (split the file)", table.len()));
    }
    table
        .rows()
        .map(|r| {
            table
                .columns
                .iter()
                .zip(&r)
                .map(|(c, cell)| Ok((c.name.clone(), serde_json::to_value(cell).map_err(|e| e.to_string())?)))
                .collect()
        })
        .collect()
}
