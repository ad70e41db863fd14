//! The one CSV writer (and reader) behind every export: study trials and events, analysis
//! tables, run metrics, experiment results, steering sweeps, probes and patching.
//!
//! RFC 4180: a field holding a comma, a double quote, CR or LF is quoted, with inner quotes
//! doubled; every other field is written as is, so numeric columns stay byte for byte what
//! the caller formatted. Lines end in `\n`; the reader also accepts `\r\n`. Output loads in
//! pandas (`read_csv`) and R (`read.csv`) unchanged. Pure: std only.

use std::borrow::Cow;
use std::fmt;

/// One field, quoted when it needs to be.
pub fn field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// Append one row to `out`: fields (quoted where needed) joined by commas, then `\n`.
pub fn write_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f.as_ref()));
    }
    out.push('\n');
}

/// One row as a line of text (ending in `\n`), for writers that stream rows.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    write_row(&mut out, fields);
    out
}

/// A CSV document with a header row and rows of one shape (as many fields as the header).
#[derive(Clone, Debug)]
pub struct Table {
    text: String,
    columns: usize,
}

impl Table {
    /// A table whose first line is `header`.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        Table { text: row(header), columns: header.len() }
    }

    /// Append one row; it has as many fields as the header (a mismatch is a bug in the
    /// exporter, caught in debug builds and tests).
    pub fn push<S: AsRef<str>>(&mut self, fields: &[S]) {
        debug_assert_eq!(fields.len(), self.columns, "CSV row width differs from the header");
        write_row(&mut self.text, fields);
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// A CSV text that cannot be read: where (source name, 1-based line) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvError {
    pub source: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for CsvError {}

/// Parse CSV text into rows of fields (quoted fields may span lines). `source` names the text
/// in errors.
pub fn parse(text: &str, source: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let err = |line: usize, message: &str| CsvError { source: source.into(), line, message: message.into() };
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start_line = 1;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',') | Some('\n') | Some('\r')) {
                        return Err(err(line, "text after a closing quote"));
                    }
                }
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    cur.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
                continue;
            }
            ',' => {
                row.push(std::mem::take(&mut cur));
                at_field_start = true;
                continue;
            }
            '\r' if chars.peek() == Some(&'\n') => continue,
            '\n' => {
                row.push(std::mem::take(&mut cur));
                rows.push(std::mem::take(&mut row));
                line += 1;
                start_line = line;
                at_field_start = true;
                continue;
            }
            _ => cur.push(c),
        }
        at_field_start = false;
    }
    if quoted {
        return Err(err(start_line, "unterminated quoted field"));
    }
    if !cur.is_empty() || !row.is_empty() {
        row.push(cur);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_fields_are_written_unchanged() {
        assert!(matches!(field("0.125"), Cow::Borrowed("0.125")));
        assert_eq!(row(&["1", "train_loss", "2.5e-7", "NaN", "-inf"]), "1,train_loss,2.5e-7,NaN,-inf\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field("\""), "\"\"\"\"");
    }

    #[test]
    fn empty_fields_stay_empty_and_round_trip() {
        assert_eq!(row(&["", "x", ""]), ",x,\n");
        let rows = parse(",x,\n,,\n", "t").unwrap();
        assert_eq!(rows, vec![vec!["", "x", ""], vec!["", "", ""]]);
    }

    #[test]
    fn a_table_round_trips_through_the_reader() {
        let header = ["site", "label", "value"];
        let cells =
            [["blocks.0.mixer", "plain", "1"], ["a,b", "say \"hi\"", ""], ["two\nlines", "cr\r\nlf", "ça"]];
        let mut t = Table::new(&header);
        for c in &cells {
            t.push(c);
        }
        let text = t.finish();
        assert!(text.starts_with("site,label,value\nblocks.0.mixer,plain,1\n\"a,b\""), "{text}");
        let rows = parse(&text, "t").unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0], header);
        for (got, want) in rows[1..].iter().zip(&cells) {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn crlf_line_ends_are_accepted() {
        assert_eq!(parse("a,b\r\n1,2\r\n", "t").unwrap(), vec![vec!["a", "b"], vec!["1", "2"]]);
    }

    #[test]
    fn broken_quotes_are_reported_with_a_line() {
        let e = parse("a,b\n\"open,c\n", "f.csv").unwrap_err();
        assert_eq!(e.to_string(), "f.csv:2: unterminated quoted field");
        let e = parse("\"a\"x,b\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("closing quote"), "{e}");
    }
}
