//! An error and its sources as one line of text, for logs and error messages: clients'
//! own messages are often only "error sending request" or "Service error", and the cause
//! (a refused connection, a timeout) is further down the chain.

use std::error::Error;

/// `error` and each of its sources, joined by `: `; a source whose text the line already
/// holds (wrappers often repeat their cause) is left out.
pub fn one_line(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct Layer {
        text: &'static str,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source
                .as_deref()
                .map(|layer| layer as &(dyn Error + 'static))
        }
    }

    fn chain(texts: &[&'static str]) -> Option<Box<Layer>> {
        texts.split_first().map(|(text, rest)| {
            Box::new(Layer {
                text,
                source: chain(rest),
            })
        })
    }

    #[test]
    fn joins_the_sources_and_skips_those_already_said() {
        let error = chain(&[
            "error sending request",
            "client error (Connect)",
            "Connect",
            "connection refused",
        ])
        .expect("an error");
        assert_eq!(
            one_line(&*error),
            "error sending request: client error (Connect): connection refused"
        );
    }
}
