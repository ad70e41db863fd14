//! Minimal RFC 4180 CSV: writing with quoting (a field holding a comma, quote, CR or LF is
//! quoted, quotes doubled) and reading back (quoted fields may span lines). Lines end in
//! `\n`; the reader also accepts `\r\n`. Output loads in pandas (`read_csv`) and R
//! (`read.csv`) as is.

use super::error::StudyError;

/// One field, quoted when needed.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Append one row (fields joined by commas, then `\n`).
pub fn write_row<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&field(f.as_ref()));
    }
    out.push('\n');
}

/// Parse CSV text into rows of fields. `source` names the text in errors.
pub fn parse(text: &str, source: &str) -> Result<Vec<Vec<String>>, StudyError> {
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
                        return Err(StudyError::Data {
                            source: source.into(),
                            line,
                            message: "text after a closing quote".into(),
                        });
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
        return Err(StudyError::Data {
            source: source.into(),
            line: start_line,
            message: "unterminated quoted field".into(),
        });
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
    fn quoting_round_trips_commas_quotes_and_newlines() {
        let fields = ["plain", "a,b", "say \"hi\"", "two\nlines", "", "ça"];
        let mut s = String::new();
        write_row(&mut s, &fields);
        write_row(&mut s, &["x", "y", "z", "w", "v", "u"]);
        let rows = parse(&s, "t").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], fields.iter().map(|f| f.to_string()).collect::<Vec<_>>());
        assert_eq!(s.lines().next().unwrap(), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two");
    }

    #[test]
    fn broken_quotes_are_reported_with_a_line() {
        let e = parse("a,b\n\"open,c\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("f.csv:2: unterminated"), "{e}");
        let e = parse("\"a\"x,b\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("closing quote"), "{e}");
    }
}
