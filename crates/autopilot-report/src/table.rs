//! CSV as the project writes it: whole tables through the csv crate, and text fields made safe
//! for spreadsheets.

use std::borrow::Cow;
use std::io::{self, Write};

/// Text a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
/// return) gets a leading `'`; other text is returned as it is. Quoting is the CSV writer's job.
pub fn spreadsheet_safe(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A CSV file: the header, then the rows, fields quoted by the csv crate where needed.
pub(crate) fn csv_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing into memory cannot fail and every field is UTF-8, so there is no error to return.
    writer.write_record(header).expect("CSV into memory");
    for row in rows {
        writer.write_record(&row).expect("CSV into memory");
    }
    String::from_utf8(writer.into_inner().expect("CSV into memory")).expect("UTF-8 fields")
}

/// A text field of a report's CSV file.
pub(crate) fn csv_text(text: &str) -> String {
    spreadsheet_safe(text).into_owned()
}

/// Writes one CSV row through the csv crate into an output that may carry other text as well
/// (the CLI's stdout). Text fields should have passed [`spreadsheet_safe`].
pub fn write_csv_row<I, T>(out: &mut impl Write, fields: I) -> io::Result<()>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    // A writer per row, with a small buffer: the row is written whole and nothing stays
    // buffered between rows, so other output on `out` keeps its place.
    let mut writer = csv::WriterBuilder::new()
        .buffer_capacity(1024)
        .from_writer(out);
    writer.write_record(fields)?;
    writer.flush()
}
