//! Splitting an output stream into lines with bounded memory (the [`LogSink`] contract).
//!
//! [`LogSink`]: gha_exec::LogSink

use gha_exec::MAX_LINE_BYTES;

/// Accumulates bytes and yields complete lines without `\n` / `\r\n`; a line longer than
/// `max` bytes is yielded in `max`-byte pieces.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    buf: Vec<u8>,
    max: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        LineSplitter::with_max(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    pub(crate) fn with_max(max: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Feeds `data`, calling `emit` for every complete line.
    pub(crate) fn push(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&str)) {
        while let Some(nl) = data.iter().position(|&b| b == b'\n') {
            self.append(&data[..nl], emit);
            self.flush(emit);
            data = &data[nl + 1..];
        }
        self.append(data, emit);
    }

    /// Emits a last line that had no terminator.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.buf.is_empty() {
            self.flush(emit);
        }
    }

    fn append(&mut self, mut part: &[u8], emit: &mut dyn FnMut(&str)) {
        while self.buf.len() + part.len() > self.max {
            let take = self.max - self.buf.len();
            self.buf.extend_from_slice(&part[..take]);
            part = &part[take..];
            emit(&String::from_utf8_lossy(&self.buf));
            self.buf.clear();
        }
        self.buf.extend_from_slice(part);
    }

    fn flush(&mut self, emit: &mut dyn FnMut(&str)) {
        let bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        emit(&String::from_utf8_lossy(bytes));
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
    fn joins_chunks_and_strips_crlf() {
        assert_eq!(
            split(&[b"ab", b"c\r\nde\n", b"\nf"], 100),
            ["abc", "de", "", "f"]
        );
    }

    #[test]
    fn cuts_long_lines() {
        assert_eq!(split(&[b"abcdefg\nhi\n"], 3), ["abc", "def", "g", "hi"]);
    }

    #[test]
    fn replaces_invalid_utf8() {
        assert_eq!(split(&[b"a\xffb\n"], 100), ["a\u{fffd}b"]);
    }
}
