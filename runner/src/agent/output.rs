//! Keeping long outputs short for the model: the start and the end, with a note of what was
//! left out between. The end matters most for build and test output (the failures and the
//! summary are there); the start shows what ran.

use std::collections::VecDeque;

/// Captures a byte stream of any length in bounded memory: the first `head` bytes and the
/// last `tail` bytes.
#[derive(Debug)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    total: u64,
}

impl HeadTail {
    pub fn new(head_limit: usize, tail_limit: usize) -> Self {
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_limit,
            tail_limit,
            total: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_limit.saturating_sub(self.head.len());
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        if bytes.len() >= self.tail_limit {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_limit..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_limit);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }

    /// Every byte seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The kept text, with a marker where bytes were dropped. Invalid UTF-8 (including a
    /// character cut at the seam) is replaced, not fatal.
    pub fn render(&self) -> String {
        let kept = self.head.len() as u64 + self.tail.len() as u64;
        let head = String::from_utf8_lossy(&self.head);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        if kept == self.total {
            format!("{head}{tail}")
        } else {
            format!(
                "{head}\n[… {} bytes of output left out …]\n{tail}",
                self.total - kept
            )
        }
    }
}

/// `text` cut to at most about `max_chars` characters: a quarter from the start, the rest
/// from the end, with a note of how much was left out.
pub fn head_and_tail(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_owned();
    }
    let head_chars = max_chars / 4;
    let tail_chars = max_chars - head_chars;
    let head_end = text
        .char_indices()
        .nth(head_chars)
        .map_or(text.len(), |(at, _)| at);
    let tail_start = text
        .char_indices()
        .nth(total - tail_chars)
        .map_or(text.len(), |(at, _)| at);
    format!(
        "{}\n[… {} characters left out …]\n{}",
        &text[..head_end],
        total - head_chars - tail_chars,
        &text[tail_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut out = HeadTail::new(8, 8);
        out.push(b"hello ");
        out.push(b"world");
        assert_eq!(out.render(), "hello world");
        assert_eq!(out.total(), 11);
    }

    #[test]
    fn long_output_keeps_its_start_and_end() {
        let mut out = HeadTail::new(4, 6);
        for piece in ["0123", "4567", "89ab", "cdef"] {
            out.push(piece.as_bytes());
        }
        assert_eq!(
            out.render(),
            "0123\n[… 6 bytes of output left out …]\nabcdef"
        );
        let mut big = HeadTail::new(2, 3);
        big.push(b"0123456789");
        assert_eq!(big.render(), "01\n[… 5 bytes of output left out …]\n789");
    }

    #[test]
    fn text_is_cut_on_character_boundaries() {
        let text = "é".repeat(100);
        let cut = head_and_tail(&text, 20);
        assert!(cut.starts_with(&"é".repeat(5)));
        assert!(cut.ends_with(&"é".repeat(15)));
        assert!(cut.contains("80 characters left out"));
        assert_eq!(head_and_tail("short", 20), "short");
    }
}
