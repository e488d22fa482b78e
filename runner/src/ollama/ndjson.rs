//! Splitting Ollama's streamed body (newline-delimited JSON) into lines, whatever the chunk
//! boundaries of the reads: a line may arrive in many pieces, and one read may hold many lines.

/// The longest line accepted. One streamed object normally holds a token or two; the longest
/// is a tool call whose arguments carry a whole file for `write_file`. A line past this is a
/// broken server, and buffering it without bound would only exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Room for the parts of a reply that do not grow with its tokens: the final object, a tool
/// call's JSON around its arguments, keep-alive newlines.
const REPLY_BASE_BYTES: usize = 1024 * 1024;

/// Bytes one streamed token takes at most, generously: each token is one object of about
/// 150 bytes (`{"model":…,"created_at":…,"message":{"role":"assistant","content":"…"},"done":false}`)
/// plus a long model name and a token whose characters JSON escapes.
const BYTES_PER_TOKEN: usize = 256;

/// The most of one reply read however many tokens it may have: past this, a server is
/// not streaming a chat reply.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// The most bytes a reply of at most `num_predict` tokens can take; a reply past it is cut
/// and counts as unreadable, so a broken server can't make the runner download without
/// end (or again on every retry). About 5 MB for the default 16,384 tokens.
pub fn reply_byte_limit(num_predict: u32) -> usize {
    let tokens = usize::try_from(num_predict).unwrap_or(usize::MAX);
    REPLY_BASE_BYTES
        .saturating_add(tokens.saturating_mul(BYTES_PER_TOKEN))
        .min(MAX_REPLY_BYTES)
}

/// A line grew past the limit before its newline arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a streamed line exceeded {limit} bytes without ending")]
pub struct LineTooLong {
    pub limit: usize,
}

/// Accumulates bytes and hands out complete lines, without their `\n` or `\r\n`. Blank lines
/// (keep-alive newlines) are skipped.
#[derive(Debug)]
pub struct LineSplitter {
    pending: Vec<u8>,
    limit: usize,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::with_limit(MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    pub fn with_limit(limit: usize) -> Self {
        Self {
            pending: Vec::new(),
            limit,
        }
    }

    /// Adds `bytes` and returns the lines they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(at);
            rest = &tail[1..];
            if self.pending.len() + head.len() > self.limit {
                self.pending.clear();
                return Err(LineTooLong { limit: self.limit });
            }
            let line = if self.pending.is_empty() {
                head.to_vec()
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(head);
                line
            };
            if let Some(line) = clean(line) {
                lines.push(line);
            }
        }
        if self.pending.len() + rest.len() > self.limit {
            self.pending.clear();
            return Err(LineTooLong { limit: self.limit });
        }
        self.pending.extend_from_slice(rest);
        Ok(lines)
    }

    /// The last line when the body ended without a final newline.
    pub fn finish(self) -> Option<Vec<u8>> {
        clean(self.pending)
    }
}

/// Drops a trailing `\r` and returns `None` for a line of only whitespace.
fn clean(mut line: Vec<u8>) -> Option<Vec<u8>> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: Vec<Vec<u8>>) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    const BODY: &str = "{\"a\":1}\n{\"b\":\"x\\ny\"}\r\n\n{\"done\":true}\n";

    #[test]
    fn whole_body_in_one_read() {
        let mut splitter = LineSplitter::default();
        assert_eq!(
            text(splitter.push(BODY.as_bytes()).unwrap()),
            ["{\"a\":1}", "{\"b\":\"x\\ny\"}", "{\"done\":true}"]
        );
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn every_chunk_boundary_gives_the_same_lines() {
        let bytes = BODY.as_bytes();
        for size in 1..bytes.len() {
            let mut splitter = LineSplitter::default();
            let mut lines = Vec::new();
            for chunk in bytes.chunks(size) {
                lines.extend(text(splitter.push(chunk).unwrap()));
            }
            assert_eq!(
                lines,
                ["{\"a\":1}", "{\"b\":\"x\\ny\"}", "{\"done\":true}"],
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn multibyte_characters_split_across_reads_survive() {
        let body = "{\"content\":\"héllo 🦀\"}\n".as_bytes();
        for at in 1..body.len() {
            let mut splitter = LineSplitter::default();
            let mut lines = splitter.push(&body[..at]).unwrap();
            lines.extend(splitter.push(&body[at..]).unwrap());
            assert_eq!(text(lines), ["{\"content\":\"héllo 🦀\"}"]);
        }
    }

    #[test]
    fn a_last_line_without_newline_is_returned_by_finish() {
        let mut splitter = LineSplitter::default();
        assert_eq!(
            text(splitter.push(b"{\"a\":1}\n{\"done\":").unwrap()),
            ["{\"a\":1}"]
        );
        assert!(splitter.push(b"true}").unwrap().is_empty());
        assert_eq!(splitter.finish(), Some(b"{\"done\":true}".to_vec()));
    }

    #[test]
    fn the_reply_limit_follows_the_response_budget_within_bounds() {
        assert_eq!(reply_byte_limit(0), REPLY_BASE_BYTES);
        assert_eq!(reply_byte_limit(16_384), 5 * 1024 * 1024);
        assert_eq!(reply_byte_limit(u32::MAX), MAX_REPLY_BYTES);
    }

    #[test]
    fn refuses_a_line_that_never_ends() {
        let mut splitter = LineSplitter::with_limit(8);
        assert!(splitter.push(b"1234").is_ok());
        assert_eq!(splitter.push(b"56789"), Err(LineTooLong { limit: 8 }));
        let mut splitter = LineSplitter::with_limit(8);
        assert!(splitter.push(b"12345678\n").is_ok());
        assert!(splitter.push(b"123456789\n").is_err());
    }
}
