//! Reading a program's settings from its environment once, at start-up: every missing or
//! invalid setting is named, all of them in one error, so a misconfigured deployment says
//! everything that is wrong the first time.

use std::str::FromStr;

/// Reads settings through `var` (usually `std::env::var(..).ok()`), collecting problems.
pub struct EnvReader<F> {
    var: F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> EnvReader<F> {
    pub fn new(var: F) -> Self {
        Self {
            var,
            problems: Vec::new(),
        }
    }

    /// A setting that must be present and not blank.
    pub fn required(&mut self, name: &str) -> String {
        self.optional(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is not set"));
            String::new()
        })
    }

    /// A setting that may be absent, without surrounding whitespace; blank counts as
    /// absent.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.var)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// A required comma-separated list with at least one item.
    pub fn required_list(&mut self, name: &str) -> Vec<String> {
        let Some(raw) = self.optional(name) else {
            self.problems.push(format!("{name} is not set"));
            return Vec::new();
        };
        let list: Vec<String> = raw
            .split(',')
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect();
        if list.is_empty() {
            self.problems.push(format!("{name} lists nothing"));
        }
        list
    }

    /// An optional setting parsed as `T`; `what` says what it should be, for the error.
    pub fn parsed_or<T: FromStr>(&mut self, name: &str, default: T, what: &str) -> T {
        match self.optional(name) {
            None => default,
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                self.problems
                    .push(format!("{name} must be {what}, not {raw:?}"));
                default
            }),
        }
    }

    /// A required setting parsed as `T`.
    pub fn required_parsed<T: FromStr + Default>(&mut self, name: &str, what: &str) -> T {
        if self.optional(name).is_none() {
            self.problems.push(format!("{name} is not set"));
            return T::default();
        }
        self.parsed_or(name, T::default(), what)
    }

    /// A problem that no single setting shows (two settings that contradict each other).
    pub fn problem(&mut self, problem: impl Into<String>) {
        self.problems.push(problem.into());
    }

    /// Reads a program's settings with `read` through `var`: the settings if nothing was
    /// wrong, else every problem, in the order met.
    pub fn read_all<T>(var: F, read: impl FnOnce(&mut Self) -> T) -> Result<T, String> {
        let mut env = Self::new(var);
        let settings = read(&mut env);
        env.finish(settings)
    }

    /// `settings` if nothing was wrong, else every problem, in the order met.
    pub fn finish<T>(self, settings: T) -> Result<T, String> {
        if self.problems.is_empty() {
            Ok(settings)
        } else {
            Err(self.problems.join("; "))
        }
    }
}

/// A reader over a fixed list of variables, for tests of settings.
pub fn from_pairs(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_problem_at_once() {
        let mut env = EnvReader::new(from_pairs(&[("PORT", "eighty"), ("BLANK", "  ")]));
        let _ = env.required("QUEUE_URL");
        let _ = env.required("BLANK");
        let _: u16 = env.parsed_or("PORT", 80, "a port number");
        let _: u64 = env.required_parsed("APP_ID", "the App's numeric id");
        assert_eq!(
            env.finish(()),
            Err("QUEUE_URL is not set; BLANK is not set; PORT must be a port number, not \"eighty\"; APP_ID is not set".to_owned())
        );
    }

    #[test]
    fn reads_what_is_there() {
        let mut env = EnvReader::new(from_pairs(&[
            ("PORT", " 8080 "),
            ("NAME", "x "),
            ("SUBNETS", "subnet-1, subnet-2,"),
        ]));
        let port: u16 = env.parsed_or("PORT", 80, "a port number");
        let name = env.required("NAME");
        let subnets = env.required_list("SUBNETS");
        assert_eq!(env.optional("MISSING"), None);
        assert_eq!(
            env.finish((port, name, subnets)),
            Ok((
                8080,
                "x".to_owned(),
                vec!["subnet-1".to_owned(), "subnet-2".to_owned()]
            ))
        );
    }
}
