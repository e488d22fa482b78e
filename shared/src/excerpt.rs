//! Text from outside (a comment's command line, with whatever was pasted after it) as it
//! may go into a log line or an audit entry: its start and its length, never all of it.

use std::borrow::Cow;

/// Characters of outside text kept in a log line or an audit entry: enough to recognize
/// a command and its first words; a 65,536-character comment line would otherwise make a
/// log line of a hundred kilobytes.
pub const EXCERPT_CHARS: usize = 200;

/// `text` as it is when it has at most [`EXCERPT_CHARS`] characters; otherwise its first
/// [`EXCERPT_CHARS`] (cut on a character boundary), `…` and its length in characters.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!(
            "{}… ({} characters)",
            &text[..cut],
            text.chars().count()
        )),
    }
}

/// `text` cut to its first `max` characters (on a character boundary) with `…` after
/// when anything was left out.
pub fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_chars_keeps_short_text_and_cuts_on_a_character_boundary() {
        assert_eq!(cut_chars("abc", 3), "abc");
        assert_eq!(cut_chars("éééé", 2), "éé…");
    }

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_with_its_length() {
        assert_eq!(excerpt("/ollama refactor"), "/ollama refactor");
        let exact = "a".repeat(EXCERPT_CHARS);
        assert_eq!(excerpt(&exact), exact.as_str());
        let long = format!("/ollama fix {}", "é".repeat(65_536));
        let cut = excerpt(&long);
        assert!(cut.starts_with("/ollama fix éé"));
        assert!(cut.ends_with("… (65548 characters)"), "{cut}");
        assert_eq!(
            cut.chars().count(),
            EXCERPT_CHARS + "… (65548 characters)".len() - 2
        );
    }
}
