//! PostgreSQL's `COPY … FROM STDIN` text format, for benchmarks and tests that load rows in
//! bulk: fields separated by tabs, rows ended by a newline, `\N` for NULL, and backslash, tab,
//! newline and carriage return escaped inside a field.

/// Appends one field: `\N` for `None`, the text escaped otherwise.
pub fn push_field(out: &mut String, value: Option<&str>) {
    let Some(text) = value else {
        out.push_str("\\N");
        return;
    };
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// Appends one row: the fields, tab-separated, then a newline.
pub fn push_row<'a>(out: &mut String, fields: impl IntoIterator<Item = Option<&'a str>>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        push_field(out, field);
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped_and_null_is_backslash_n() {
        let mut out = String::new();
        push_row(&mut out, [Some("a\tb\\c\nd\re"), None, Some("")]);
        assert_eq!(out, "a\\tb\\\\c\\nd\\re\t\\N\t\n");
    }
}
