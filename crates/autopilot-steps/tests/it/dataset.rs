//! Dataset summaries of CSV files.

use autopilot_steps::{ColumnKind, MAX_CELL_BYTES, format_number, summarize_csv};

use crate::support::AppDir;

#[test]
fn columns_get_types_ranges_and_means() {
    let dir = AppDir::new();
    let path = dir.write(
        "d.csv",
        "Red,Count,label,empty\n0.5,1,a,\n0.25,3,b,\n1,2,a,\n",
    );
    let summary = summarize_csv(&path, "d.csv", Some("apple")).unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(summary.columns.len(), 4);
    let red = &summary.columns[0];
    assert_eq!(red.kind, ColumnKind::Float);
    assert_eq!((red.min, red.max), (Some(0.25), Some(1.0)));
    assert_eq!(red.mean, Some(0.5833), "means are rounded to 4 decimals");
    assert_eq!(summary.columns[1].kind, ColumnKind::Integer);
    assert_eq!(summary.columns[1].mean, Some(2.0));
    let label = &summary.columns[2];
    assert_eq!(label.kind, ColumnKind::Text);
    assert_eq!(label.examples, vec!["a", "b"]);
    assert_eq!(label.min, None);
    assert_eq!(summary.columns[3].kind, ColumnKind::Empty);
    assert_eq!(summary.columns[3].missing, 3);
    assert_eq!(summary.first_rows.len(), 3);
    assert_eq!(summary.first_rows[0], vec!["0.5", "1", "a", ""]);
}

/// A huge cell reaches the prompt's first rows only up to the cap.
#[test]
fn huge_cells_are_cut_in_the_first_rows() {
    let dir = AppDir::new();
    let path = dir.write("d.csv", format!("a,b\n{},1\n", "z".repeat(10_000)));
    let summary = summarize_csv(&path, "d.csv", None).unwrap();
    let cell = &summary.first_rows[0][0];
    assert!(cell.ends_with('…'), "{cell}");
    assert!(
        cell.len() <= MAX_CELL_BYTES + '…'.len_utf8(),
        "{}",
        cell.len()
    );
    assert_eq!(summary.first_rows[0][1], "1");
}

#[test]
fn the_rendering_is_compact_and_complete() {
    let dir = AppDir::new();
    dir.write(
        "data/apple.csv",
        "Red,Green,Blue\n0.6,0.2,0.2\n0.5,0.3,0.2\n0.7,0.1,0.2\n0.55,0.25,0.2\n",
    );
    dir.write("m.h", "int f(const float x[3]) { return 0; }\n");
    let app = dir
        .load(
            r#"
name = "a"
description = "d"
target = "uno"
classes = ["apple", "pear"]
[[dataset]]
file = "data/apple.csv"
class = "apple"
"#,
        )
        .unwrap();
    let text = app.dataset.render();
    assert_eq!(
        text,
        "data/apple.csv (class apple): 4 rows × 3 columns\n  Red float [0.5, 0.7] mean 0.5875\n  Green float [0.1, 0.3] mean 0.2125\n  Blue float [0.2, 0.2] mean 0.2\n  first rows: Red,Green,Blue | 0.6,0.2,0.2 | 0.5,0.3,0.2 | 0.7,0.1,0.2\n"
    );
}

#[test]
fn broken_csv_files_are_reported_with_the_line() {
    let dir = AppDir::new();
    let ragged = dir.write("r.csv", "a,b\n1,2\n3\n");
    let err = summarize_csv(&ragged, "r.csv", None).unwrap_err();
    assert!(
        err.message
            .contains("line 3 has 1 fields, the header has 2"),
        "{err}"
    );
    let empty = dir.write("e.csv", "");
    assert!(
        summarize_csv(&empty, "e.csv", None)
            .unwrap_err()
            .message
            .contains("no header")
    );
    let header_only = dir.write("h.csv", "a,b\n");
    assert!(
        summarize_csv(&header_only, "h.csv", None)
            .unwrap_err()
            .message
            .contains("no data rows")
    );
    let duplicate = dir.write("d.csv", "a,a\n1,2\n");
    assert!(
        summarize_csv(&duplicate, "d.csv", None)
            .unwrap_err()
            .message
            .contains("appears twice")
    );
}

#[test]
fn an_app_names_the_dataset_key_of_a_broken_file() {
    let dir = AppDir::new();
    dir.write("bad.csv", "a,b\n1,2\n3\n");
    let err = dir
        .load("name = \"a\"\ndescription = \"d\"\ntarget = \"uno\"\nclasses = [\"x\", \"y\"]\n[[dataset]]\nfile = \"bad.csv\"\n")
        .unwrap_err();
    assert_eq!(err.keys(), vec!["dataset[0].file"]);
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn numbers_are_formatted_briefly() {
    assert_eq!(format_number(0.5), "0.5");
    assert_eq!(format_number(12.0), "12");
    assert_eq!(format_number(1.0 / 3.0), "0.3333");
    assert_eq!(format_number(-0.000_01), "0");
    assert_eq!(format_number(-2.25), "-2.25");
}
