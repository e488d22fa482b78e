//! GitHub's limits on the text the App posts, in the unit GitHub counts them in, and the
//! one way text is cut to fit them: on a character boundary, saying that it was cut.
//!
//! - A check run's `output.summary` and `output.text`: at most [`MAX_CHECK_TEXT_BYTES`]
//!   **bytes** of UTF-8. The REST docs say "65535 characters", but GitHub answers 422
//!   `summary exceeds a maximum bytesize of 65535` (github/docs#35252,
//!   github/rest-api-description#5399), so a text of 40,000 `é` is refused.
//! - An issue comment, a pull request's body, a review's body and an inline comment's body:
//!   at most [`MAX_BODY_CHARS`] characters (422 `Body is too long (maximum is 65536
//!   characters)`). 65,536 characters are at most 262,144 bytes, which is also the largest
//!   body GitHub stores (measured, objectstack-ai/objectstack#18826), so a body cut by
//!   characters fits both ways.

/// The most bytes GitHub takes in a check run's `output.summary` or `output.text`.
pub const MAX_CHECK_TEXT_BYTES: usize = 65_535;

/// The most characters GitHub takes in a comment's, a pull request's or a review's body.
pub const MAX_BODY_CHARS: usize = 65_536;

/// A limit on a text's length, in the unit GitHub counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// UTF-8 bytes.
    Bytes(usize),
    /// Unicode scalar values (what Rust's `chars` yields).
    Chars(usize),
}

/// A check run's `output.summary` or `output.text`.
pub const CHECK_TEXT: Limit = Limit::Bytes(MAX_CHECK_TEXT_BYTES);

/// A comment's, a pull request's or a review's body.
pub const BODY: Limit = Limit::Chars(MAX_BODY_CHARS);

/// Said in place of what did not fit.
pub const CUT_NOTE: &str = "\n\n… (cut to fit GitHub's limit)";

impl Limit {
    /// How long `text` is in this limit's unit.
    pub fn measure(self, text: &str) -> usize {
        match self {
            Self::Bytes(_) => text.len(),
            Self::Chars(_) => text.chars().count(),
        }
    }

    /// The limit itself.
    pub fn max(self) -> usize {
        match self {
            Self::Bytes(max) | Self::Chars(max) => max,
        }
    }

    /// Whether `text` fits.
    pub fn fits(self, text: &str) -> bool {
        self.measure(text) <= self.max()
    }

    /// The longest start of `text` that is at most `room` long, cut on a character
    /// boundary.
    pub fn prefix(self, text: &str, room: usize) -> &str {
        match self {
            Self::Bytes(_) => {
                let mut end = room.min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                &text[..end]
            }
            Self::Chars(_) => match text.char_indices().nth(room) {
                Some((end, _)) => &text[..end],
                None => text,
            },
        }
    }

    /// `text` followed by `tail`, with `text` cut (and [`CUT_NOTE`] put after it) when the
    /// whole would not fit; `tail` (a marker, a log pointer) is always kept whole.
    pub fn fit_with_tail(self, text: &str, tail: &str) -> String {
        if self.measure(text) + self.measure(tail) <= self.max() {
            return format!("{text}{tail}");
        }
        let room = self
            .max()
            .saturating_sub(self.measure(tail))
            .saturating_sub(self.measure(CUT_NOTE));
        format!("{}{CUT_NOTE}{tail}", self.prefix(text, room))
    }

    /// `text`, cut to fit with [`CUT_NOTE`] when it does not.
    pub fn fit(self, text: &str) -> String {
        self.fit_with_tail(text, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_texts_are_cut_by_bytes_on_a_character_boundary() {
        let wide = "é".repeat(MAX_CHECK_TEXT_BYTES);
        let fitted = CHECK_TEXT.fit(&wide);
        assert!(fitted.len() <= MAX_CHECK_TEXT_BYTES, "{}", fitted.len());
        assert!(fitted.len() > MAX_CHECK_TEXT_BYTES - 8);
        assert!(fitted.ends_with(CUT_NOTE));
        // Four-byte characters: the cut never splits one.
        let emoji = "🦀".repeat(20_000);
        let fitted = CHECK_TEXT.fit_with_tail(&emoji, "\n\nFull log: x");
        assert!(fitted.len() <= MAX_CHECK_TEXT_BYTES);
        assert!(fitted.ends_with("\n\nFull log: x"));
        let ascii = "x".repeat(MAX_CHECK_TEXT_BYTES);
        assert_eq!(CHECK_TEXT.fit(&ascii), ascii);
    }

    #[test]
    fn bodies_are_cut_by_characters() {
        let wide = "é".repeat(MAX_BODY_CHARS);
        assert_eq!(BODY.fit(&wide), wide);
        let over = "é".repeat(MAX_BODY_CHARS + 1);
        let fitted = BODY.fit_with_tail(&over, "\n\n<!-- m -->");
        assert_eq!(fitted.chars().count(), MAX_BODY_CHARS);
        assert!(fitted.ends_with("… (cut to fit GitHub's limit)\n\n<!-- m -->"));
    }

    #[test]
    fn a_prefix_is_never_longer_than_its_room() {
        for text in ["", "abc", "ééé", "a🦀b"] {
            for room in 0..8 {
                for limit in [Limit::Bytes(8), Limit::Chars(8)] {
                    let prefix = limit.prefix(text, room);
                    assert!(limit.measure(prefix) <= room, "{text:?} {room} {limit:?}");
                    assert!(text.starts_with(prefix));
                }
            }
        }
    }
}
