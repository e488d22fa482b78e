use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Tally {
    counts: HashMap<String, u64>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, word: &str) {
        *self.counts.entry(word.to_lowercase()).or_insert(0) += 1;
    }

    pub fn count(&self, word: &str) -> u64 {
        self.counts.get(&word.to_lowercase()).copied().unwrap_or(0)
    }

    pub fn most_common(&self) -> Option<(&str, u64)> {
        self.counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(word, count)| (word.as_str(), *count))
    }
}
