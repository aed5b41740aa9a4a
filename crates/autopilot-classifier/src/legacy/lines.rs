//! Streaming physical lines of a text log, split the way Python's universal-newline mode splits
//! them (`\n`, `\r\n` and a lone `\r` all end a line), in bounded memory.

use std::io::{self, BufRead};

/// The longest log line kept: a longer one is cut to its first 16 MiB (the rest is read and
/// dropped) and a warning says so; the original system's log lines are at most a few KiB.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Reads lines one at a time into an internal buffer; each line is handed out without its
/// terminator. Memory is bounded by [`MAX_LINE_BYTES`].
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
    max_line: usize,
    /// Bytes of the input's buffer handed out as the last line, consumed on the next call.
    handed_out: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(input: R) -> Self {
        LineReader {
            input,
            buf: Vec::with_capacity(4096),
            pieces: Vec::new(),
            pieces_terminated: true,
            terminated: true,
            max_line: MAX_LINE_BYTES,
            handed_out: 0,
        }
    }

    /// The same reader with another line cap than [`MAX_LINE_BYTES`].
    #[must_use]
    pub fn with_max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
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
        self.input.consume(std::mem::take(&mut self.handed_out));
        if let Some(piece) = self.pieces.pop() {
            self.buf = piece;
            self.terminated = !self.pieces.is_empty() || self.pieces_terminated;
            return Ok(Some((&self.buf, self.terminated)));
        }
        // The common case: a whole line, without `\r` and under the cap, is in the input's
        // buffer already. It is handed out from there, not copied (copying every line was a
        // tenth of the default mode's time).
        let whole = match self.input.fill_buf() {
            // One search for both terminators: a `\r` before the newline sends the line
            // down the copying path.
            Ok(available) => memchr::memchr2(b'\n', b'\r', available)
                .filter(|at| available[*at] == b'\n' && *at <= self.max_line),
            // The copying path below retries and reports errors.
            Err(_) => None,
        };
        if let Some(at) = whole {
            self.handed_out = at + 1;
            self.terminated = true;
            let available = self.input.fill_buf()?;
            return Ok(Some((&available[..at.min(available.len())], true)));
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
                return Ok(self.cut_if_long());
            }
            // Past the cap, bytes are consumed but not kept (the newline still is).
            let room = (self.max_line + 1).saturating_sub(self.buf.len());
            if let Some(at) = memchr::memchr(b'\n', available) {
                self.buf.extend_from_slice(&available[..at.min(room)]);
                self.buf.push(b'\n');
                self.input.consume(at + 1);
                return Ok(self.cut_if_long());
            }
            let n = available.len();
            self.buf.extend_from_slice(&available[..n.min(room)]);
            self.input.consume(n);
        }
    }

    /// Cuts a line (its newline kept) that passed the cap, with a warning; returns its length.
    fn cut_if_long(&mut self) -> usize {
        let newline = self.buf.last() == Some(&b'\n');
        let content = self.buf.len() - usize::from(newline);
        if content > self.max_line {
            tracing::warn!(
                "a log line longer than {} bytes was cut to its first {} bytes",
                self.max_line,
                self.max_line
            );
            self.buf.truncate(self.max_line);
            if newline {
                self.buf.push(b'\n');
            }
        }
        self.buf.len()
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
    match simdutf8::basic::from_utf8(line) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[u8]) -> Vec<(String, bool)> {
        lines_capped(text, MAX_LINE_BYTES)
    }

    fn lines_capped(text: &[u8], max_line: usize) -> Vec<(String, bool)> {
        // A small buffer, so long lines span many reads.
        let mut reader =
            LineReader::new(io::BufReader::with_capacity(7, text)).with_max_line(max_line);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            let line = String::from_utf8_lossy(line).into_owned();
            out.push((line, reader.last_terminated()));
        }
        out
    }

    #[test]
    fn lines_over_the_cap_are_cut_and_the_next_line_is_whole() {
        let long = "y".repeat(100);
        let text = format!("short\n{long}\nnext\n{long}");
        let got = lines_capped(text.as_bytes(), 10);
        let want = [
            ("short", true),
            ("yyyyyyyyyy", true),
            ("next", true),
            ("yyyyyyyyyy", false),
        ];
        assert_eq!(got, want.map(|(l, t)| (l.to_owned(), t)).to_vec());
        // Exactly at the cap: kept whole.
        assert_eq!(
            lines_capped(b"0123456789\n", 10),
            [("0123456789".to_owned(), true)]
        );
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

    /// Lines handed out from the input's buffer and lines copied (across reads, with `\r`,
    /// over the cap) come out the same as a plain split, whatever the buffer size.
    #[test]
    fn lines_in_and_across_the_input_buffer_split_the_same() {
        let mut text = Vec::new();
        for (i, letter) in (0..400usize).zip((b'a'..=b'z').cycle()) {
            text.extend(std::iter::repeat_n(letter, (i * 7) % 53));
            text.extend_from_slice(if i % 17 == 0 { b"\r\n" } else { b"\n" });
        }
        let want: Vec<(String, bool)> = String::from_utf8(text.clone())
            .unwrap()
            .lines()
            .map(|l| (l.to_owned(), true))
            .collect();
        for capacity in [7, 64, 100, 4096] {
            let mut reader = LineReader::new(io::BufReader::with_capacity(capacity, &text[..]))
                .with_max_line(40);
            let mut got = Vec::new();
            while let Some((line, terminated)) = reader.next_line_ending().unwrap() {
                got.push((String::from_utf8(line.to_vec()).unwrap(), terminated));
            }
            let capped: Vec<(String, bool)> = want
                .iter()
                .map(|(l, t)| (l.chars().take(40).collect(), *t))
                .collect();
            assert_eq!(got, capped, "capacity {capacity}");
        }
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
