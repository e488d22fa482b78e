//! Finding the lines of a file that most resemble a text the model wanted to replace, so a
//! failed `edit_file` can show it what the file really says.

use super::error::NoMatchHint;
use super::read::clip_line;

/// Below this average line similarity a window is not worth showing: it would mislead more
/// than help.
const MIN_SIMILARITY: f64 = 0.5;

/// The most (file lines × text lines) window comparisons to make; past it only windows whose
/// first line resembles the text's first line are scored. Keeps a failed edit on a huge file
/// well under a second.
const FULL_SCAN_BUDGET: usize = 400_000;

/// The most windows scored in the anchored fallback.
const MAX_ANCHORS: usize = 500;

/// The most lines of the file a hint shows.
const MAX_SNIPPET_LINES: usize = 30;

/// Each line in a hint is cut to this many characters.
const MAX_SNIPPET_LINE_CHARS: usize = 200;

/// What to tell the model about `old`, which does not occur exactly in `content`.
pub(crate) fn hint_for(content: &str, old: &str) -> NoMatchHint {
    let file: Vec<&str> = lines(content);
    let wanted: Vec<&str> = lines(old);
    if file.is_empty() || wanted.iter().all(|l| l.trim().is_empty()) {
        return NoMatchHint::Nothing;
    }
    let span = wanted.len().min(file.len());

    if let Some(start) = whitespace_match(&file, &wanted) {
        let end = start + wanted.len();
        return NoMatchHint::WhitespaceOnly {
            start: start + 1,
            end,
            snippet: snippet(&file, start, end),
        };
    }

    let file_grams: Vec<Vec<u64>> = file.iter().map(|l| bigrams(l)).collect();
    let wanted_grams: Vec<Vec<u64>> = wanted.iter().map(|l| bigrams(l)).collect();
    let score = |start: usize| -> f64 {
        let total: f64 = (0..span)
            .map(|i| dice(&file_grams[start + i], &wanted_grams[i]))
            .sum();
        total / wanted.len() as f64
    };
    let last_start = file.len() - span;
    let candidates: Vec<usize> = if (last_start + 1) * span <= FULL_SCAN_BUDGET {
        (0..=last_start).collect()
    } else {
        (0..=last_start)
            .filter(|&i| dice(&file_grams[i], &wanted_grams[0]) >= MIN_SIMILARITY)
            .take(MAX_ANCHORS)
            .collect()
    };
    let best = candidates
        .into_iter()
        .map(|start| (start, score(start)))
        .fold(None::<(usize, f64)>, |best, (start, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((start, s)),
        });
    match best {
        Some((start, s)) if s >= MIN_SIMILARITY => NoMatchHint::Closest {
            start: start + 1,
            end: start + span,
            snippet: snippet(&file, start, start + span),
        },
        _ => NoMatchHint::Nothing,
    }
}

/// The lines of `text` without terminators; a final newline does not add an empty line.
fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// The first window where every line equals the wanted one once trimmed.
fn whitespace_match(file: &[&str], wanted: &[&str]) -> Option<usize> {
    whitespace_windows(file, wanted).next()
}

/// Every window (its first line, 0-based) where each line equals the wanted one once
/// trimmed.
fn whitespace_windows<'a>(
    file: &'a [&str],
    wanted: &'a [&str],
) -> impl Iterator<Item = usize> + 'a {
    let last = (file.len() + 1).checked_sub(wanted.len().max(1));
    (0..last.unwrap_or(0)).filter(move |&start| {
        wanted
            .iter()
            .enumerate()
            .all(|(i, w)| file[start + i].trim() == w.trim())
    })
}

/// The lines of `content` that `old` matches when whitespace at the ends of each line is
/// ignored, as `(first, count)` (0-based), when exactly one such window exists; an edit can
/// then land there safely.
pub(crate) fn unique_whitespace_match(content: &str, old: &str) -> Option<(usize, usize)> {
    let file = lines(content);
    let wanted = lines(old);
    if wanted.is_empty() || wanted.iter().all(|l| l.trim().is_empty()) {
        return None;
    }
    let mut windows = whitespace_windows(&file, &wanted);
    let first = windows.next()?;
    windows.next().is_none().then_some((first, wanted.len()))
}

/// The character bigrams of the trimmed line, packed and sorted, for [`dice`].
fn bigrams(line: &str) -> Vec<u64> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut grams: Vec<u64> = chars
        .windows(2)
        .map(|pair| (u64::from(pair[0]) << 32) | u64::from(pair[1]))
        .collect();
    grams.sort_unstable();
    grams
}

/// The Sørensen–Dice similarity of two sorted bigram lists, from 0 (nothing shared) to 1.
fn dice(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (2 * shared) as f64 / (a.len() + b.len()) as f64
}

/// Lines `start..end` (0-based, exclusive) numbered as `read_file` shows them.
fn snippet(file: &[&str], start: usize, end: usize) -> String {
    let end = end.min(start + MAX_SNIPPET_LINES);
    let width = end.to_string().len();
    let mut out = String::new();
    for (offset, line) in file[start..end].iter().enumerate() {
        let line = clip_line(line, MAX_SNIPPET_LINE_CHARS);
        out.push_str(&format!("{:>width$}\t{line}\n", start + offset + 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n\nfn other() {}\n";

    #[test]
    fn reports_a_whitespace_only_difference() {
        let hint = hint_for(FILE, "let x = 1;\nprintln!(\"{x}\");");
        assert_eq!(
            hint,
            NoMatchHint::WhitespaceOnly {
                start: 2,
                end: 3,
                snippet: "2\t    let x = 1;\n3\t    println!(\"{x}\");\n".to_owned(),
            }
        );
    }

    #[test]
    fn finds_the_most_similar_lines() {
        let hint = hint_for(FILE, "    let x = 2;\n    println!(\"{x}\");\n");
        let NoMatchHint::Closest { start, end, .. } = hint else {
            panic!("expected a closest match, got {hint:?}");
        };
        assert_eq!((start, end), (2, 3));
    }

    #[test]
    fn says_nothing_when_nothing_resembles_the_text() {
        assert_eq!(
            hint_for(FILE, "completely unrelated words here"),
            NoMatchHint::Nothing
        );
        assert_eq!(hint_for("", "x"), NoMatchHint::Nothing);
    }

    #[test]
    fn uses_anchors_on_huge_files() {
        let mut content: String = (0..100_000)
            .map(|i| format!("filler line number {i}\n"))
            .collect();
        content.push_str("let target = compute(alpha, beta);\nreturn target;\n");
        let hint = hint_for(
            &content,
            "let target = compute(alpha, gamma);\nreturn target;\n",
        );
        let NoMatchHint::Closest { start, .. } = hint else {
            panic!("expected a closest match, got {hint:?}");
        };
        assert_eq!(start, 100_001);
    }
}
