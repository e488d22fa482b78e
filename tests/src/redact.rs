//! Text users see, made deterministic for `insta` snapshots: the values that change from
//! run to run (job ids, log addresses, ports, durations) replaced by named placeholders.

/// Replacements applied in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Redact {
    values: Vec<(String, String)>,
    line_tails: Vec<(String, String)>,
}

impl Redact {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every occurrence of `value` becomes `placeholder`. Longer values are replaced
    /// first, so a job id goes before its short form.
    pub fn value(mut self, value: impl Into<String>, placeholder: &str) -> Self {
        let value = value.into();
        if !value.is_empty() {
            self.values.push((value, placeholder.to_owned()));
        }
        self
    }

    /// On a line that contains `marker`, what follows it becomes `placeholder`.
    pub fn after(mut self, marker: &str, placeholder: &str) -> Self {
        self.line_tails
            .push((marker.to_owned(), placeholder.to_owned()));
        self
    }

    pub fn apply(&self, text: &str) -> String {
        let mut values = self.values.clone();
        values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        let mut text = text.to_owned();
        for (value, placeholder) in &values {
            text = text.replace(value.as_str(), placeholder);
        }
        text.split('\n')
            .map(|line| {
                self.line_tails
                    .iter()
                    .find_map(|(marker, placeholder)| {
                        line.find(marker.as_str())
                            .map(|at| format!("{}{placeholder}", &line[..at + marker.len()]))
                    })
                    .unwrap_or_else(|| line.to_owned())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::Redact;

    #[test]
    fn ids_then_line_tails() {
        let redact = Redact::new()
            .value("j123", "[short]")
            .value("j1234567", "[job]")
            .after("| Time | ", "[time] |");
        assert_eq!(
            redact.apply("job j1234567 (j123)\n| Time | 3s |\nend"),
            "job [job] ([short])\n| Time | [time] |\nend"
        );
    }
}
