//! Splitting a byte stream into lines with bounded memory: what every backend does with a
//! step's stdout and stderr before handing lines to a [`LogSink`](crate::LogSink).

use crate::log_sink::MAX_LINE_BYTES;

/// Accumulates bytes and yields complete lines (without `\n` / `\r\n`); a line longer than
/// `max` bytes is yielded in `max`-byte pieces so memory stays bounded.
///
/// ```
/// use gha_exec::LineSplitter;
///
/// let mut lines = Vec::new();
/// let mut splitter = LineSplitter::default();
/// splitter.push(b"one\r\ntw", &mut |l| lines.push(l.to_string()));
/// splitter.push(b"o\nthree", &mut |l| lines.push(l.to_string()));
/// splitter.finish(&mut |l| lines.push(l.to_string()));
/// assert_eq!(lines, ["one", "two", "three"]);
/// ```
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::with_max(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    /// A splitter that cuts lines longer than `max` bytes (at least 1) into pieces.
    pub fn with_max(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feeds `data`, calling `emit` for every complete line.
    pub fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&str)) {
        while !data.is_empty() {
            match data.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    let (line, rest) = data.split_at(nl);
                    self.append_bounded(line, emit);
                    self.emit_buf(emit);
                    data = &rest[1..];
                }
                None => {
                    self.append_bounded(data, emit);
                    data = &[];
                }
            }
        }
    }

    /// Flushes a last line that had no terminator.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.buf.is_empty() {
            self.emit_buf(emit);
        }
    }

    fn append_bounded(&mut self, mut part: &[u8], emit: &mut dyn FnMut(&str)) {
        while self.buf.len() + part.len() > self.max {
            let take = self.max - self.buf.len();
            self.buf.extend_from_slice(&part[..take]);
            part = &part[take..];
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            self.buf.clear();
            emit(&line);
        }
        self.buf.extend_from_slice(part);
    }

    fn emit_buf(&mut self, emit: &mut dyn FnMut(&str)) {
        let mut bytes: &[u8] = &self.buf;
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        let line = String::from_utf8_lossy(bytes);
        emit(&line);
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut s = LineSplitter::with_max(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut |l| out.push(l.to_string()));
        }
        s.finish(&mut |l| out.push(l.to_string()));
        out
    }

    #[test]
    fn splits_across_chunks_and_strips_crlf() {
        assert_eq!(
            split(&[b"ab", b"c\r\nde\n", b"\nf"], 100),
            ["abc", "de", "", "f"]
        );
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(split(&[b"abcdefg\nhi\n"], 3), ["abc", "def", "g", "hi"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(split(&[b"a\xffb\n"], 100), ["a\u{fffd}b"]);
    }

    proptest::proptest! {
        #[test]
        fn rejoining_gives_the_input(lines in proptest::collection::vec("[a-z]{0,20}", 0..20), cut in 1usize..50) {
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let bytes = text.as_bytes();
            let chunks: Vec<&[u8]> = bytes.chunks(cut).collect();
            proptest::prop_assert_eq!(split(&chunks, 1000), lines);
        }
    }
}
