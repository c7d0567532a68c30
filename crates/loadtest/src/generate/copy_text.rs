//! Rows in PostgreSQL's `COPY … FROM STDIN` text format: tab-separated fields, one row per line,
//! `\N` for NULL, and backslash escapes for the four bytes that would otherwise end a field or a
//! row (a JSON document with a `\n` escape in it carries a backslash, which must be doubled).

use std::io::Write as _;

/// Rows of one table, appended field by field.
#[derive(Debug, Default)]
pub struct CopyText {
    buf: Vec<u8>,
    in_row: bool,
}

impl CopyText {
    fn separate(&mut self) {
        if self.in_row {
            self.buf.push(b'\t');
        }
        self.in_row = true;
    }

    /// A text field.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separate();
        let bytes = value.as_bytes();
        if !bytes
            .iter()
            .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
        {
            self.buf.extend_from_slice(bytes);
            return self;
        }
        for &b in bytes {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
        self
    }

    /// A nullable text field.
    pub fn opt(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    /// NULL.
    pub fn null(&mut self) -> &mut Self {
        self.separate();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    /// An integer field.
    pub fn int(&mut self, value: i64) -> &mut Self {
        self.separate();
        // Writing to a Vec cannot fail.
        let _ = write!(self.buf, "{value}");
        self
    }

    /// A boolean field.
    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.separate();
        self.buf.push(if value { b't' } else { b'f' });
        self
    }

    /// Ends the row.
    pub fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.in_row = false;
    }

    /// Whether no row has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The text written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::CopyText;

    #[test]
    fn escapes_what_would_end_a_field_or_a_row() {
        let mut rows = CopyText::default();
        rows.int(7)
            .text(r#"{"a":"x\ny"}"#)
            .opt(None)
            .boolean(true)
            .text("tab\there\r\n")
            .end_row();
        rows.text("plain").end_row();
        assert_eq!(
            String::from_utf8(rows.into_bytes()).unwrap(),
            "7\t{\"a\":\"x\\\\ny\"}\t\\N\tt\ttab\\there\\r\\n\nplain\n"
        );
    }
}
