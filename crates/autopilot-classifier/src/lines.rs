//! Streaming physical lines of a text log, split the way Python's universal-newline mode splits
//! them (`\n`, `\r\n` and a lone `\r` all end a line), in bounded memory.

use std::io::{self, BufRead};

/// Reads lines one at a time into an internal buffer; each line is handed out without its
/// terminator. Memory is bounded by the longest line.
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    buf: Vec<u8>,
    /// Pieces of a physical `\n`-line that held lone `\r`s, last piece first (rare).
    pieces: Vec<Vec<u8>>,
    /// Whether the last piece in `pieces` ends with a terminator.
    pieces_terminated: bool,
    /// Whether the line handed out last ended with a terminator.
    terminated: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R) -> Self {
        LineReader {
            input,
            buf: Vec::with_capacity(4096),
            pieces: Vec::new(),
            pieces_terminated: true,
            terminated: true,
        }
    }

    /// Whether the line returned last ended with a line terminator (the last line of a file
    /// may not).
    pub fn last_terminated(&self) -> bool {
        self.terminated
    }

    /// The next line without its terminator, or `None` at the end of the input. The slice is
    /// valid until the next call.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        Ok(self.next_line_ending()?.map(|(line, _)| line))
    }

    /// Like [`LineReader::next_line`], with whether the line ended with a terminator.
    pub fn next_line_ending(&mut self) -> io::Result<Option<(&[u8], bool)>> {
        if let Some(piece) = self.pieces.pop() {
            self.buf = piece;
            self.terminated = !self.pieces.is_empty() || self.pieces_terminated;
            return Ok(Some((&self.buf, self.terminated)));
        }
        if self.read_until_newline()? == 0 {
            return Ok(None);
        }
        self.terminated = self.buf.last() == Some(&b'\n');
        if self.terminated {
            self.buf.pop();
        }
        if memchr::memchr(b'\r', &self.buf).is_some() {
            self.split_carriage_returns();
        }
        Ok(Some((&self.buf, self.terminated)))
    }

    /// `BufRead::read_until(b'\n')` with the vectorised `memchr` (the standard library's
    /// generic search was a seventh of the classifier's time).
    fn read_until_newline(&mut self) -> io::Result<usize> {
        self.buf.clear();
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok(self.buf.len());
            }
            if let Some(at) = memchr::memchr(b'\n', available) {
                self.buf.extend_from_slice(&available[..=at]);
                self.input.consume(at + 1);
                return Ok(self.buf.len());
            }
            let n = available.len();
            self.buf.extend_from_slice(available);
            self.input.consume(n);
        }
    }

    /// `a\rb\r\n` is the lines `a` and `b`; a trailing `\r` is a terminator itself.
    fn split_carriage_returns(&mut self) {
        let line = std::mem::take(&mut self.buf);
        let mut parts: Vec<Vec<u8>> = line.split(|b| *b == b'\r').map(<[u8]>::to_vec).collect();
        if parts.last().is_some_and(Vec::is_empty) {
            // The line ended in `\r` (`\r\n` or a final `\r`): that ends the last piece.
            parts.pop();
            self.pieces_terminated = true;
        } else {
            self.pieces_terminated = self.terminated;
        }
        parts.reverse();
        self.buf = parts.pop().unwrap_or_default();
        self.pieces = parts;
        self.terminated = !self.pieces.is_empty() || self.pieces_terminated;
    }
}

/// The line as text: borrowed when it is valid UTF-8 (the fast, common case), with U+FFFD
/// for invalid bytes otherwise.
pub fn text(line: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(line) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<(String, bool)> {
        let mut reader = LineReader::new(text);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            let line = String::from_utf8_lossy(line).into_owned();
            out.push((line, reader.last_terminated()));
        }
        out
    }

    #[test]
    fn splits_like_python_universal_newlines() {
        let got = lines(b"a\nb\r\nc\rd\re\nf");
        let want = [
            ("a", true),
            ("b", true),
            ("c", true),
            ("d", true),
            ("e", true),
            ("f", false),
        ];
        assert_eq!(
            got,
            want.map(|(l, t)| (l.to_owned(), t)).to_vec(),
            "{got:?}"
        );
    }

    #[test]
    fn keeps_empty_lines_and_a_trailing_cr() {
        assert_eq!(
            lines(b"\n\nx\r"),
            vec![
                (String::new(), true),
                (String::new(), true),
                ("x".to_owned(), true)
            ]
        );
        assert_eq!(
            lines(b"a\r\rb"),
            vec![
                ("a".to_owned(), true),
                (String::new(), true),
                ("b".to_owned(), false)
            ]
        );
        assert!(lines(b"").is_empty());
    }
}
