//! `app::table` on the shared datasets and on the malformed inputs people actually upload.

use app::table::{Cell, ColumnKind, ColumnStats, Format, Location, ParseOptions, Table, TableError};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).expect("test data")
}

fn parse(bytes: &[u8], format: Format) -> Result<Table, TableError> {
    Table::parse(bytes, format, &ParseOptions::default())
}

#[test]
fn iris_reads_the_same_from_csv_json_and_excel() {
    let csv = parse(&data("iris.csv"), Format::Csv).unwrap();
    let json = parse(&data("iris.json"), Format::Json).unwrap();
    let xlsx = parse(&data("iris.xlsx"), Format::Xlsx).unwrap();
    assert_eq!(csv.len(), 150);
    let names: Vec<&str> = csv.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm", "species"]);
    let kinds: Vec<ColumnKind> = csv.columns.iter().map(|c| c.kind).collect();
    assert_eq!(kinds[..4], [ColumnKind::Numeric; 4]);
    assert_eq!(kinds[4], ColumnKind::Categorical);
    assert_eq!(csv.row(0), vec![Cell::Number(5.1), Cell::Number(3.5), Cell::Number(1.4), Cell::Number(0.2), Cell::Text("setosa".into())]);
    assert_eq!(csv, json);
    assert_eq!(csv, xlsx);
    let s = csv.summaries();
    assert_eq!(
        s[4].stats,
        ColumnStats::Categorical { distinct: 3, top: vec![("setosa".into(), 50), ("versicolor".into(), 50), ("virginica".into(), 50)] }
    );
    let ColumnStats::Numeric { min, max, mean } = s[0].stats.clone() else { panic!("numeric") };
    assert_eq!((min, max), (Some(4.3), Some(7.9)));
    assert!((mean.unwrap() - 5.843333).abs() < 1e-5);
    assert_eq!(s[0].describe(), "sepal_length_cm (numeric): 0 missing; min 4.3, max 7.9, mean 5.843");
    assert_eq!(s[4].describe(), "species (categorical): 0 missing; 3 categories; top: setosa (50), versicolor (50), virginica (50)");
}

#[test]
fn diabetes_has_442_numeric_rows() {
    let t = parse(&data("diabetes.csv"), Format::Csv).unwrap();
    assert_eq!((t.len(), t.columns.len()), (442, 11));
    assert!(t.columns.iter().all(|c| c.kind == ColumnKind::Numeric));
    assert_eq!(t.columns[10].name, "progression");
}

#[test]
fn csv_dialects_bom_quotes_delimiters_missing_and_booleans() {
    let text = "\u{feff}name;score;passed;note\n\"Smith; J\";1,5;TRUE;\"said \"\"hi\"\"\"\nLee;NA;false;\n\nKim;3;true;x\n";
    let t = parse(text.as_bytes(), Format::Csv).unwrap();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["name", "score", "passed", "note"]);
    // "1,5" is not a number in this file's dialect, so the column is categorical, as pandas would say.
    assert_eq!(t.columns[1].kind, ColumnKind::Categorical);
    assert_eq!(t.columns[2].kind, ColumnKind::Boolean);
    assert_eq!(t.cell(0, 0), Cell::Text("Smith; J".into()));
    assert_eq!(t.cell(0, 3), Cell::Text("said \"hi\"".into()));
    assert_eq!(t.cell(1, 1), Cell::Missing);
    assert_eq!(t.cell(1, 2), Cell::Bool(false));
    assert_eq!(t.len(), 3, "the blank line is not a row");
    assert_eq!(t.summaries()[1].missing, 1);

    let tsv = parse(b"1\t2\n3\t4\n", Format::Csv).unwrap();
    assert_eq!(tsv.columns[0].name, "column_1", "a numeric first row is data, not a header");
    assert_eq!(tsv.len(), 2);
    let forced = Table::parse(b"a,b\nc,d\n", Format::Csv, &ParseOptions { header: Some(false), sheet: None }).unwrap();
    assert_eq!(forced.len(), 2);
}

#[test]
fn a_ragged_csv_names_its_line() {
    let err = parse(b"a,b,c\n1,2,3\n4,5,6\n7,8\n", Format::Csv).unwrap_err();
    assert_eq!(
        err,
        TableError::Invalid {
            at: Location::Line { line: 4, field: None },
            message: "expected 3 fields like the first line, found 2".into(),
        }
    );
    assert_eq!(err.to_string(), "line 4: expected 3 fields like the first line, found 2");
    let latin1 = parse(b"a,b\n1,caf\xe9\n", Format::Csv).unwrap_err();
    assert!(matches!(latin1, TableError::Invalid { at: Location::Line { line: 2, field: Some(2) }, .. }), "{latin1:?}");
    assert!(matches!(parse(b"", Format::Csv), Err(TableError::Empty(_))));
    assert!(matches!(parse(b"a,b\n", Format::Csv), Err(TableError::Empty(_))));
}

#[test]
fn json_lines_and_errors_with_places() {
    let t = parse(b"{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\",\"c\":true}\n", Format::Json).unwrap();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"], "keys in first-seen order");
    assert_eq!(t.row(1), vec![Cell::Missing, Cell::Text("y".into()), Cell::Bool(true)]);

    let err = parse(b"[{\"a\":1},\n {\"a\":2,}]", Format::Json).unwrap_err();
    assert!(matches!(err, TableError::Invalid { at: Location::Line { line: 2, .. }, .. }), "{err:?}");
    let err = parse(b"[{\"a\":1},{\"a\":{\"nested\":1}}]", Format::Json).unwrap_err();
    assert_eq!(err.to_string(), "record 2, key “a”: expected a number, string, boolean or null, found an object");
    let err = parse(b"[{\"a\":1}, 3]", Format::Json).unwrap_err();
    assert_eq!(err.to_string(), "record 2: expected a record ({…}), found a number");
    let err = parse(b"{\"a\":1}\n{\"a\":\n", Format::Json).unwrap_err();
    assert!(matches!(err, TableError::Invalid { at: Location::Line { line: 2, .. }, .. }), "{err:?}");
}

#[test]
fn excel_sheets_by_name_and_unreadable_files() {
    let err = Table::parse(&data("iris.xlsx"), Format::Xlsx, &ParseOptions { sheet: Some("Nope".into()), header: None }).unwrap_err();
    assert!(matches!(err, TableError::UnknownSheet { .. }), "{err:?}");
    assert!(err.to_string().contains("Nope"));
    assert!(matches!(parse(b"not a zip", Format::Xlsx), Err(TableError::Unreadable { .. })));
}

/// The streaming scanner the browser uses agrees with the whole-file parser the trainer uses,
/// whatever the piece size, on schema, row count, preview, summaries and errors.
#[test]
fn the_streaming_csv_scanner_agrees_with_the_parser() {
    use app::table::scan::{CsvScanner, Scan};
    // Columns that turn categorical after numbers (the scanner counts their numbers' spellings
    // in a second pass), one of them past the first piece.
    let mut mixed = String::from("zip,amount,code\n");
    for i in 0..5_000 {
        mixed.push_str(&format!("{:03},{}.5,{}\n", i % 40, i % 9, if i == 4_000 { "X1".to_owned() } else { format!("{}", i % 3) }));
    }
    mixed.push_str("AB12,1,007\n007,2,7\n");
    let dialect =
        "\u{feff}name;score;passed;note\n\"Smith; J\";1,5;TRUE;\"said \"\"hi\"\"\nover two lines\"\nLee;NA;false;\n\nKim;3;true;x\n";
    let mut big = String::from("a,b,flag,cat\n");
    for i in 0..20_000 {
        big.push_str(&format!("{i},{},{},{}\n", i as f64 / 7.0, i % 2 == 0, ["x", "y", "z"][i % 3]));
    }
    // Files the scanner reads line by line (no quotes): Windows line ends, empty lines and a
    // line of spaces (skipped when the file has one column), empty and padded fields.
    let crlf = b"a,b\r\n1,2\r\n\r\n3, 4 \r\n,NA\r\n5,x\r\n".to_vec();
    let one_column = b"x\n1\n   \n2\n\n\n3.25\n".to_vec();
    let blank_first = b"\n\nh,i,j\n1,,3\n,NA,x\n-0.5,+2,\n".to_vec();
    // Past the first 64 KiB (which the scanner reads only once it has them all): a lone `\r`
    // (a line end to the `csv` reader) and a last line without its newline; quotes in lines
    // that end in a later piece than the quote's.
    let plain_lines = |n: usize| (0..n).map(|i| format!("{i},{}\n", i % 7)).collect::<String>();
    let lone_cr = format!("a,b\n{}3,4\r5,x\n6,7", plain_lines(10_000)).into_bytes();
    let quoted_later = format!("a,b\n{}5,\"x,y\"\n6,\"z\"\n{}8,9\r\n", plain_lines(10_000), plain_lines(10)).into_bytes();
    // A column that shows text first, then numbers that only std's reader reads (padded, an
    // exponent, a plus) and booleans: the scanner no longer reads them once the column is text.
    let text_first = b"k,v,f\nx,1,true\n 7 ,2,false\n1e3,3,maybe\ntrue,4,TRUE\n+2,5,2\n7,6,x\n".to_vec();
    // A text column whose values come again, as they are (counted by their bytes) and padded,
    // quoted, missing, in another case, and as numbers.
    let repeated = b"id,colour\n1,red\n2, red\n3,red \n4,NA\n5,red\n6,7\n7,blue\n8,\"red\"\n9,\n10,na\n11,Red\n12,7\n13,red\n".to_vec();
    let inputs: Vec<Vec<u8>> = vec![
        data("iris.csv"),
        data("diabetes.csv"),
        dialect.as_bytes().to_vec(),
        big.into_bytes(),
        mixed.into_bytes(),
        crlf,
        one_column,
        blank_first,
        lone_cr,
        quoted_later,
        text_first,
        repeated,
    ];
    for bytes in &inputs {
        let table = parse(bytes, Format::Csv).unwrap();
        let expected = Scan::of_table(&table, Format::Csv, ParseOptions::default());
        for piece in [1, 7, 4096, 70_000, bytes.len()] {
            assert_eq!(CsvScanner::scan(bytes, ParseOptions::default(), piece).unwrap(), expected, "piece {piece}");
        }
    }
    // A quote in the partial line one piece leaves, closed before the piece that ends the line:
    // that line is still read as quoted (a plain read would keep `"5"` as text).
    let text = format!("a,b\n{}6,\"5\"\n7,8\n", plain_lines(10_000)).into_bytes();
    let cut = text.len() - "\n7,8\n".len();
    let mut s = CsvScanner::new(ParseOptions::default());
    s.push(&text[..cut]).unwrap();
    s.push(&text[cut..]).unwrap();
    assert_eq!(s.finish().unwrap(), Scan::of_table(&parse(&text, Format::Csv).unwrap(), Format::Csv, ParseOptions::default()));
    // Errors name the same line and field as the parser's, in a line read line by line too.
    let scan_error = |bytes: &[u8]| {
        let mut s = CsvScanner::new(ParseOptions::default());
        s.push(bytes).and_then(|()| s.finish().map(|_| ())).unwrap_err()
    };
    for bytes in [&b"a,b,c\n1,2,3\n4,5,6\n7,8\n"[..], b"a,b\n1,2\n3,4,5\n"] {
        assert_eq!(scan_error(bytes), parse(bytes, Format::Csv).unwrap_err(), "{}", String::from_utf8_lossy(bytes));
    }
    // After an empty line the scanner names the right line, where the `csv` crate's reader
    // (the parser's, for this file) names the empty one (BurntSushi/rust-csv#208).
    assert_eq!(
        scan_error(b"a,b\n1,2\n\n3,\xff\n").to_string(),
        "line 4, field 2: the text is not UTF-8; save the file as UTF-8 and try again"
    );
    // Far into a file pushed in pieces, the line number still counts from the top.
    let mut long = String::from("a,b\n");
    for i in 0..100_000 {
        long.push_str(&format!("{i},{i}\n"));
    }
    long.push_str("oops\n");
    let mut s = CsvScanner::new(ParseOptions::default());
    let mut result = Ok(());
    for p in long.as_bytes().chunks(65_536) {
        result = result.and_then(|()| s.push(p));
    }
    let err = result.and_then(|()| s.finish().map(|_| ())).unwrap_err();
    assert_eq!(err.to_string(), "line 100002: expected 2 fields like the first line, found 1");
}

/// Numbers are parsed as they are read; a column that later shows text keeps every value's
/// original spelling (zip codes, ids), and the first row counts as data when it is not a header.
#[test]
fn a_column_that_turns_out_categorical_keeps_its_original_spelling() {
    let t = parse(b"zip,amount\n007,1.50\n\n0100,NA\nN/A,2\nabc,3e2\n", Format::Csv).unwrap();
    assert_eq!((t.columns[0].kind, t.columns[1].kind), (ColumnKind::Categorical, ColumnKind::Numeric));
    let zips: Vec<Cell> = (0..t.len()).map(|r| t.cell(r, 0)).collect();
    assert_eq!(zips, [Cell::Text("007".into()), Cell::Text("0100".into()), Cell::Missing, Cell::Text("abc".into())]);
    let amounts: Vec<Cell> = (0..t.len()).map(|r| t.cell(r, 1)).collect();
    assert_eq!(amounts, [Cell::Number(1.5), Cell::Missing, Cell::Number(2.0), Cell::Number(300.0)]);
    let no_header = parse(b"1,x\n2,y\n", Format::Csv).unwrap();
    assert_eq!(no_header.len(), 2);
    assert_eq!(no_header.row(0), vec![Cell::Number(1.0), Cell::Text("x".into())]);
    // A first line read as a row (header refused) whose text makes a column of numbers
    // categorical: the numbers under it keep their spelling too.
    let forced = Table::parse(b"id,v\n007,1\n", Format::Csv, &ParseOptions { header: Some(false), sheet: None }).unwrap();
    assert_eq!((forced.columns[0].kind, forced.columns[1].kind), (ColumnKind::Categorical, ColumnKind::Categorical));
    assert_eq!(forced.row(1), vec![Cell::Text("007".into()), Cell::Text("1".into())]);
}

/// The trainer reads a dataset as it was declared: a column of codes declared categorical
/// keeps each code as written; a declaration the values cannot fit names the column and both
/// kinds; a different column count or name is named too.
#[test]
fn a_declared_schema_is_honoured_where_the_values_allow_it() {
    use app::table::Column;
    let csv = b"code,size,flag\n007,1.5,yes\n010,2,no\n7,,no\n";
    let inferred = parse(csv, Format::Csv).unwrap();
    assert_eq!(inferred.columns[0].kind, ColumnKind::Numeric, "inference alone reads the codes as numbers");
    let col = |name: &str, kind| Column { name: name.into(), kind };
    let declared = [col("code", ColumnKind::Categorical), col("size", ColumnKind::Numeric), col("flag", ColumnKind::Categorical)];
    let t = Table::parse_declared(csv, Format::Csv, &ParseOptions::default(), &declared).unwrap();
    assert_eq!(t.columns, declared);
    let codes: Vec<Cell> = (0..t.len()).map(|r| t.cell(r, 0)).collect();
    assert_eq!(codes, [Cell::Text("007".into()), Cell::Text("010".into()), Cell::Text("7".into())], "text as written");
    assert_eq!(t.cell(2, 1), Cell::Missing);

    let refused =
        |declared: &[Column]| Table::parse_declared(csv, Format::Csv, &ParseOptions::default(), declared).unwrap_err().to_string();
    assert_eq!(
        refused(&[col("code", ColumnKind::Numeric), col("size", ColumnKind::Numeric), col("flag", ColumnKind::Numeric)]),
        "column “flag” was declared numeric but its values read as categorical"
    );
    assert_eq!(
        refused(&[col("code", ColumnKind::Boolean), col("size", ColumnKind::Numeric), col("flag", ColumnKind::Categorical)]),
        "column “code” was declared boolean but its values read as numeric"
    );
    assert_eq!(refused(&declared[..2]), "the file has 3 columns but was declared with 2");
    assert_eq!(
        refused(&[col("kode", ColumnKind::Categorical), col("size", ColumnKind::Numeric), col("flag", ColumnKind::Categorical)]),
        "a column is named “code” in the file but “kode” in the declaration"
    );
}

/// Rows in, columns kept, the same rows out: each cell converted to its column's kind (a value
/// that cannot be is missing, a short row is missing the rest), a selection keeps the order
/// asked for, a column made categorical shows its values as text, and two missing numbers
/// compare equal (a missing number is stored as NaN).
#[test]
fn a_table_keeps_its_rows_by_column() {
    use app::table::{Column, Values};
    let col = |name: &str, kind| Column { name: name.into(), kind };
    let columns = vec![col("x", ColumnKind::Numeric), col("ok", ColumnKind::Boolean), col("c", ColumnKind::Categorical)];
    let rows = vec![
        vec![Cell::Number(1.5), Cell::Bool(true), Cell::Text("a".into())],
        vec![Cell::Text("2".into()), Cell::Text("x".into()), Cell::Number(3.0)],
        vec![Cell::Missing],
    ];
    let t = Table::from_rows(columns.clone(), rows);
    assert_eq!(t.len(), 3);
    assert_eq!(
        t.clone().into_rows(),
        vec![
            vec![Cell::Number(1.5), Cell::Bool(true), Cell::Text("a".into())],
            vec![Cell::Number(2.0), Cell::Missing, Cell::Text("3".into())],
            vec![Cell::Missing, Cell::Missing, Cell::Missing],
        ]
    );
    assert_eq!(t.rows().collect::<Vec<_>>(), t.clone().into_rows());
    assert!(matches!(t.values(0), Values::Numbers(v) if v.len() == 3 && v[2].is_nan()));
    assert_eq!(t.select(&[2, 0]).into_rows(), vec![t.row(2), t.row(0)]);
    assert_eq!(t.select(&[2]), t.select(&[2]), "missing numbers are equal");
    assert_ne!(t.select(&[0]), t.select(&[1]));
    let mut c = t.clone();
    c.make_categorical(0);
    assert_eq!(c.columns[0].kind, ColumnKind::Categorical);
    assert_eq!((c.cell(0, 0), c.cell(2, 0)), (Cell::Text("1.5".into()), Cell::Missing));
    c.wipe();
    assert!(c.is_empty());
}
