//! "Did you mean ...?": the closest known word to a mistyped one, by edit distance.

/// Words longer than this are not typos of a command word (the longest built-in is 8
/// characters); skipping them keeps a pasted paragraph from costing quadratic time.
const MAX_WORD_CHARS: usize = 40;

/// The suggestion paired with the closest of `candidates` to `word`, if it is close enough
/// to be a typo: at most one edit per three characters, and at least one. Ties go to the
/// earlier candidate. Compared without regard to case.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = (&'a str, String)>,
) -> Option<String> {
    let word_chars = word.chars().count();
    if word_chars > MAX_WORD_CHARS {
        return None;
    }
    let word = word.to_lowercase();
    let max_distance = (word_chars / 3).max(1);
    candidates
        .into_iter()
        .map(|(candidate, suggestion)| {
            (edit_distance(&word, &candidate.to_lowercase()), suggestion)
        })
        .filter(|&(distance, _)| distance <= max_distance)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, suggestion)| suggestion)
}

/// Edits that turn `a` into `b`: insert, delete or replace a character, or swap two
/// adjacent ones (the optimal string alignment distance, so `hepl` is one edit from `help`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before_previous = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let replace = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = replace.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before_previous[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut before_previous, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits_and_swaps() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("refactr", "refactor"), 1);
        assert_eq!(edit_distance("tset", "test"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3);
        assert_eq!(edit_distance("héllo", "hello"), 1);
    }

    fn suggest(word: &str) -> Option<String> {
        let candidates = ["refactor", "test", "docs", "help"];
        closest(word, candidates.map(|c| (c, format!("/ollama {c}"))))
    }

    #[test]
    fn close_words_are_suggested_and_far_ones_are_not() {
        assert_eq!(suggest("refactr").as_deref(), Some("/ollama refactor"));
        assert_eq!(suggest("REFACTORR").as_deref(), Some("/ollama refactor"));
        assert_eq!(suggest("doc").as_deref(), Some("/ollama docs"));
        assert_eq!(suggest("hepl").as_deref(), Some("/ollama help"));
        assert_eq!(suggest("deploy"), None);
        assert_eq!(suggest(&"x".repeat(10_000)), None);
    }

    #[test]
    fn ties_go_to_the_earlier_candidate() {
        assert_eq!(
            closest(
                "tast",
                [("test", "first".to_owned()), ("task", "second".to_owned())]
            ),
            Some("first".to_owned())
        );
    }
}
