//! "Did you mean ...?": the closest known word to a misspelt key, task or value.

/// The candidate closest to `input`, if it is close enough to be what was meant: same
/// word in another case, one of the two a prefix of the other (`max_token`), or within an
/// edit distance of about a third of the word (`timout`, `modle`).
pub(super) fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lowered = input.to_lowercase();
    let budget = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|candidate| *candidate != input)
        .filter_map(|candidate| {
            let distance = edit_distance(&lowered, &candidate.to_lowercase());
            let prefix = candidate.chars().count().min(input.chars().count()) >= 4
                && (candidate.starts_with(input) || input.starts_with(candidate));
            (distance <= budget || prefix).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance counting insertions, deletions, substitutions and swaps of two
/// neighbouring characters (`tset` is one edit from `test`). Quadratic, which is fine for
/// the short words it compares.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 7] = [
        "command",
        "model",
        "max_tokens",
        "timeout",
        "auto_fix",
        "prompt",
        "description",
    ];

    #[test]
    fn suggests_the_nearest_key() {
        assert_eq!(did_you_mean("timout", KEYS), Some("timeout"));
        assert_eq!(did_you_mean("modle", KEYS), Some("model"));
        assert_eq!(did_you_mean("max_token", KEYS), Some("max_tokens"));
        assert_eq!(did_you_mean("maxTokens", KEYS), Some("max_tokens"));
        assert_eq!(did_you_mean("autofix", KEYS), Some("auto_fix"));
        assert_eq!(did_you_mean("Prompt", KEYS), Some("prompt"));
        assert_eq!(did_you_mean("descr", KEYS), Some("description"));
        assert_eq!(did_you_mean("tset", ["test", "docs"]), Some("test"));
    }

    #[test]
    fn stays_quiet_when_nothing_is_close() {
        assert_eq!(did_you_mean("banana", KEYS), None);
        assert_eq!(did_you_mean("x", KEYS), None);
        assert_eq!(did_you_mean("timeout", ["timeout"]), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("tset", "test"), 1);
    }
}
