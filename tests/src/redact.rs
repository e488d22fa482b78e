//! Text users see, made deterministic for `insta` snapshots: the values that change from
//! run to run (job ids, log addresses, ports, durations) replaced by named placeholders.

/// Replacements applied in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Redact {
    ids: bool,
    values: Vec<(String, String)>,
    line_tails: Vec<(String, String)>,
    spans: Vec<(String, String, String)>,
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

    /// Every job id (`j` and 20 hex digits) becomes `[job]`, every short job id (`j` and 7)
    /// `[short]`, and every test delivery id (`delivery-` and digits, from
    /// [`crate::unique`]) `[delivery]`: for texts whose ids the test never learns.
    pub fn ids(mut self) -> Self {
        self.ids = true;
        self
    }

    /// On a line that contains `marker`, what follows it becomes `placeholder`.
    pub fn after(mut self, marker: &str, placeholder: &str) -> Self {
        self.line_tails
            .push((marker.to_owned(), placeholder.to_owned()));
        self
    }

    /// Between `start` and the next `end` on a line, the text becomes `placeholder`.
    pub fn between(mut self, start: &str, end: &str, placeholder: &str) -> Self {
        self.spans
            .push((start.to_owned(), end.to_owned(), placeholder.to_owned()));
        self
    }

    pub fn apply(&self, text: &str) -> String {
        let mut values = self.values.clone();
        values.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        let mut text = text.to_owned();
        for (value, placeholder) in &values {
            text = text.replace(value.as_str(), placeholder);
        }
        if self.ids {
            text = replace_ids(&text);
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
            .map(|line| {
                self.spans
                    .iter()
                    .fold(line, |line, (start, end, placeholder)| {
                        let Some(from) = line.find(start.as_str()).map(|at| at + start.len())
                        else {
                            return line;
                        };
                        let Some(to) = line[from..].find(end.as_str()).map(|at| from + at) else {
                            return line;
                        };
                        format!("{}{placeholder}{}", &line[..from], &line[to..])
                    })
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// See [`Redact::ids`].
fn replace_ids(text: &str) -> String {
    let bytes = text.as_bytes();
    let word = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_alphanumeric);
    let run = |from: usize, accept: fn(&u8) -> bool| {
        bytes[from..].iter().take_while(|byte| accept(byte)).count()
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        let starts_word = at == 0 || !word(at - 1);
        if starts_word && bytes[at] == b'j' {
            let hex = run(at + 1, |byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
            let placeholder = match hex {
                20 => Some("[job]"),
                7 => Some("[short]"),
                _ => None,
            };
            if let Some(placeholder) = placeholder.filter(|_| !word(at + 1 + hex)) {
                out.push_str(placeholder);
                at += 1 + hex;
                continue;
            }
        }
        if starts_word && text[at..].starts_with("delivery-") {
            let tail = run(at + 9, |byte| byte.is_ascii_digit() || *byte == b'-');
            if tail > 0 {
                out.push_str("[delivery]");
                at += 9 + tail;
                continue;
            }
        }
        let next = text[at..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[at..at + next]);
        at += next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Redact;

    #[test]
    fn ids_then_line_tails() {
        let redact = Redact::new()
            .value("j123", "[short]")
            .value("j1234567", "[job]")
            .after("| Time | ", "[time] |")
            .between("Took ", " (", "[time]");
        assert_eq!(
            redact.apply("job j1234567 (j123)\n| Time | 3s |\nTook 2s (5 turns)"),
            "job [job] ([short])\n| Time | [time] |\nTook [time] (5 turns)"
        );
    }

    #[test]
    fn ids_found_by_their_shape() {
        assert_eq!(
            Redact::new().ids().apply(
                "job:j129f78e18be9a9182586:denied, `j129f78e`, delivery-1-2-3:0 (jabberwocky)"
            ),
            "job:[job]:denied, `[short]`, [delivery]:0 (jabberwocky)"
        );
    }
}
