//! Which lines of a comment are prose someone wrote, as opposed to code, quotes and HTML
//! comments: the Markdown the parser must not read commands from.
//!
//! This is a small line-oriented approximation of CommonMark, not a renderer. It errs on
//! the side of ignoring a line: a command the bot misses can be written again, a command
//! it runs from a quoted or pasted block cannot be taken back.

use std::borrow::Cow;
use std::collections::HashMap;

/// CommonMark opens a fence with at least three backticks or tildes.
const MIN_FENCE_LEN: usize = 3;

/// CommonMark makes a line indented by four columns (after a blank line) a code block.
const CODE_INDENT_COLUMNS: usize = 4;

/// CommonMark tab stops are four columns apart.
const TAB_COLUMNS: usize = 4;

const COMMENT_OPEN: &str = "<!--";
const COMMENT_CLOSE: &str = "-->";

/// A line of prose: its 1-based number in the comment and its visible text, with HTML
/// comments removed and the line ending dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProseLine<'a> {
    pub number: usize,
    pub text: Cow<'a, str>,
}

/// The prose lines of `body`, in order. Skipped: fenced code blocks (backticks or tildes,
/// at any indentation, an unclosed fence running to the end), indented code blocks, quoted
/// lines (`>`), HTML comments (also across lines, an unclosed one running to the end) and
/// blank lines. Linear in the length of `body`.
pub(super) fn prose_lines(body: &str) -> impl Iterator<Item = ProseLine<'_>> {
    Scanner {
        lines: body.split('\n').enumerate(),
        state: State::Prose,
        indented_code_may_start: true,
    }
}

enum State {
    Prose,
    Fence(Fence),
    HtmlComment,
}

struct Scanner<'a> {
    lines: std::iter::Enumerate<std::str::Split<'a, char>>,
    state: State,
    /// True after a blank line or a block that ended: CommonMark lets an indented code
    /// block start there, but not in the middle of a paragraph.
    indented_code_may_start: bool,
}

impl<'a> Iterator for Scanner<'a> {
    type Item = ProseLine<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (index, raw) = self.lines.next()?;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(text) = self.visible_prose(line) {
                return Some(ProseLine {
                    number: index + 1,
                    text,
                });
            }
        }
    }
}

impl<'a> Scanner<'a> {
    fn visible_prose(&mut self, line: &'a str) -> Option<Cow<'a, str>> {
        let rest = match &self.state {
            State::Fence(fence) => {
                if fence.is_closed_by(line) {
                    self.state = State::Prose;
                    self.indented_code_may_start = true;
                }
                return None;
            }
            State::HtmlComment => {
                let end = line.find(COMMENT_CLOSE)?;
                self.state = State::Prose;
                &line[end + COMMENT_CLOSE.len()..]
            }
            State::Prose => line,
        };
        if let Some(fence) = Fence::opened_by(rest) {
            self.state = State::Fence(fence);
            return None;
        }
        let (text, unclosed_comment) = strip_html_comments(rest);
        if unclosed_comment {
            self.state = State::HtmlComment;
        }
        if text.trim().is_empty() {
            self.indented_code_may_start = true;
            return None;
        }
        if self.indented_code_may_start && indent_columns(&text) >= CODE_INDENT_COLUMNS {
            return None;
        }
        self.indented_code_may_start = false;
        if text.trim_start().starts_with('>') {
            return None;
        }
        Some(text)
    }
}

/// An open fenced code block: its marker character and how many of them opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fence {
    marker: char,
    len: usize,
}

impl Fence {
    fn opened_by(line: &str) -> Option<Self> {
        let line = line.trim_start();
        let marker = line.chars().next().filter(|c| matches!(c, '`' | '~'))?;
        let len = line.chars().take_while(|&c| c == marker).count();
        if len < MIN_FENCE_LEN {
            return None;
        }
        // ```` ```code``` ```` on one line is an inline code span, not a fence.
        let info = &line[len..];
        if marker == '`' && info.contains('`') {
            return None;
        }
        Some(Self { marker, len })
    }

    fn is_closed_by(&self, line: &str) -> bool {
        let line = line.trim_start();
        let len = line.chars().take_while(|&c| c == self.marker).count();
        len >= self.len && line[len..].trim().is_empty()
    }
}

fn indent_columns(line: &str) -> usize {
    let mut columns = 0;
    for c in line.chars() {
        match c {
            ' ' => columns += 1,
            '\t' => columns += TAB_COLUMNS - columns % TAB_COLUMNS,
            _ => break,
        }
    }
    columns
}

/// `line` without its HTML comments, and whether the last one is still open at the end of
/// the line. A `<!--` inside a backtick code span is text, not a comment.
fn strip_html_comments(line: &str) -> (Cow<'_, str>, bool) {
    if !line.contains(COMMENT_OPEN) {
        return (Cow::Borrowed(line), false);
    }
    let spans = code_spans(line);
    let mut spans = spans.iter().peekable();
    let mut text = String::with_capacity(line.len());
    let mut copied_up_to = 0;
    let mut at = 0;
    while let Some(offset) = line[at..].find(COMMENT_OPEN) {
        let start = at + offset;
        while spans.next_if(|&&(_, end)| end <= start).is_some() {}
        if let Some(&&(span_start, span_end)) = spans.peek()
            && span_start <= start
        {
            at = span_end;
            continue;
        }
        text.push_str(&line[copied_up_to..start]);
        let body_start = start + COMMENT_OPEN.len();
        match line[body_start..].find(COMMENT_CLOSE) {
            Some(end) => {
                at = body_start + end + COMMENT_CLOSE.len();
                copied_up_to = at;
            }
            None => return (Cow::Owned(text), true),
        }
    }
    text.push_str(&line[copied_up_to..]);
    (Cow::Owned(text), false)
}

/// Byte ranges of the backtick code spans on one line: a run of n backticks opens a span
/// that the next run of exactly n backticks closes. One pass over the line.
fn code_spans(line: &str) -> Vec<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            runs.push((start, i - start));
        } else {
            i += 1;
        }
    }
    // For each run, the index of the next run of the same length.
    let mut next_same = vec![None; runs.len()];
    let mut last_seen: HashMap<usize, usize> = HashMap::new();
    for (index, &(_, len)) in runs.iter().enumerate().rev() {
        next_same[index] = last_seen.insert(len, index);
    }
    let mut spans = Vec::new();
    let mut index = 0;
    while index < runs.len() {
        match next_same[index] {
            Some(closer) => {
                let (start, _) = runs[index];
                let (closer_start, closer_len) = runs[closer];
                spans.push((start, closer_start + closer_len));
                index = closer + 1;
            }
            None => index += 1,
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(body: &str) -> Vec<(usize, String)> {
        prose_lines(body)
            .map(|line| (line.number, line.text.into_owned()))
            .collect()
    }

    fn numbers(body: &str) -> Vec<usize> {
        prose_lines(body).map(|line| line.number).collect()
    }

    #[test]
    fn plain_lines_are_prose_and_blank_lines_are_not() {
        assert_eq!(
            prose("one\n\n  two\r\nthree"),
            vec![
                (1, "one".to_owned()),
                (3, "  two".to_owned()),
                (4, "three".to_owned())
            ]
        );
        assert!(prose("").is_empty());
        assert!(prose("\n\r\n \t\n").is_empty());
    }

    #[test]
    fn fences_of_backticks_and_tildes_hide_their_content() {
        let body = "a\n```rust\nx\n```\nb\n~~~\ny\n~~~\nc";
        assert_eq!(numbers(body), vec![1, 5, 9]);
    }

    #[test]
    fn a_fence_closes_only_with_its_own_marker_and_at_least_its_length() {
        let body = "````\n```\n~~~~\nstill code\n`````  \nprose";
        assert_eq!(numbers(body), vec![6]);
        assert_eq!(numbers("~~~\n```\n~~\n~~~~\nprose"), vec![5]);
        // A closing fence may not carry an info string.
        assert!(numbers("```\n``` rust\nstill code").is_empty());
    }

    #[test]
    fn indented_and_crlf_fences_count() {
        assert_eq!(
            numbers("- list\n    ```\n    x\n    ```\nprose"),
            vec![1, 5]
        );
        assert_eq!(numbers("```\r\nx\r\n```\r\nprose\r\n"), vec![4]);
    }

    #[test]
    fn an_unclosed_fence_runs_to_the_end() {
        assert_eq!(numbers("a\n```\nb\nc"), vec![1]);
    }

    #[test]
    fn inline_triple_backticks_are_not_a_fence() {
        assert_eq!(numbers("```code``` here\nprose"), vec![1, 2]);
        assert_eq!(numbers("``\nprose"), vec![1, 2]);
    }

    #[test]
    fn quoted_lines_are_skipped() {
        assert_eq!(numbers("> quoted\n>> nested\n  > indented\nmine"), vec![4]);
    }

    #[test]
    fn indented_code_needs_a_blank_line_before_it() {
        assert_eq!(
            numbers("para\n\n    code\n\tcode\n\n    code\nprose"),
            vec![1, 7]
        );
        assert_eq!(numbers("    code at the start"), Vec::<usize>::new());
        // Inside a paragraph, indentation is only a continuation line.
        assert_eq!(numbers("para\n    continued"), vec![1, 2]);
        // Three spaces are not enough.
        assert_eq!(numbers("\n   prose"), vec![2]);
    }

    #[test]
    fn html_comments_are_removed_on_one_line_and_across_lines() {
        assert_eq!(
            prose("a <!-- hidden --> b <!-- also --> c"),
            vec![(1, "a  b  c".to_owned())]
        );
        assert_eq!(
            prose("<!-- start\nhidden\nend --> after\nprose"),
            vec![(3, " after".to_owned()), (4, "prose".to_owned())]
        );
        assert_eq!(
            prose("<!-- only a comment -->\nprose"),
            vec![(2, "prose".to_owned())]
        );
    }

    #[test]
    fn an_unclosed_html_comment_runs_to_the_end() {
        assert_eq!(
            prose("kept <!-- open\nhidden\nhidden"),
            vec![(1, "kept ".to_owned())]
        );
    }

    #[test]
    fn html_comment_markers_inside_code_are_text() {
        assert_eq!(
            prose("write `<!--` to start\nprose"),
            vec![
                (1, "write `<!--` to start".to_owned()),
                (2, "prose".to_owned())
            ]
        );
        assert_eq!(numbers("```\n<!--\n```\nprose"), vec![4]);
        // A lone backtick opens no span, so the comment is still a comment.
        assert_eq!(prose("` <!-- x --> y"), vec![(1, "`  y".to_owned())]);
    }

    #[test]
    fn fences_inside_html_comments_are_not_fences() {
        assert_eq!(numbers("<!--\n```\n-->\nprose"), vec![4]);
    }

    #[test]
    fn code_spans_pair_runs_of_equal_length() {
        assert_eq!(code_spans("a `b` c"), vec![(2, 5)]);
        assert_eq!(code_spans("``a`b``"), vec![(0, 7)]);
        assert_eq!(code_spans("` `` x"), Vec::<(usize, usize)>::new());
    }

    #[test]
    fn indentation_counts_tabs_to_the_next_stop() {
        assert_eq!(indent_columns("  \tx"), 4);
        assert_eq!(indent_columns("x"), 0);
    }
}
