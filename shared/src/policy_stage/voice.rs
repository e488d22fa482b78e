//! Where what the stage says about an event goes. For a comment, everything its commands
//! come to is gathered and posted as the comment's one reply; for a trigger nobody wrote
//! (a pull request opened, a push), each message is its own comment, as before.

use super::{StageError, marker};
use crate::command::{Answer, Ignored, comment_reply};
use crate::envelope::Envelope;
use crate::ports::{GitHub, RepoScope};

/// What the stage says while it handles one event.
pub(super) enum Voice {
    /// Each message is posted at once, as its own comment with its own marker.
    Direct,
    /// Messages are kept for the reply to the comment being handled.
    Gathered(Gathered),
}

/// The answers to one comment so far, and the command they are about.
#[derive(Default)]
pub(super) struct Gathered {
    /// The command being carried out now: its line and text.
    current: Option<(usize, String)>,
    answers: Vec<Answer>,
}

impl Voice {
    /// A voice that gathers the reply to a comment.
    pub(super) fn gathered() -> Self {
        Self::Gathered(Gathered::default())
    }

    /// What follows is about the command on `line`, written `source` (`None`: about the
    /// comment as a whole).
    pub(super) fn about(&mut self, command: Option<(usize, &str)>) {
        if let Self::Gathered(gathered) = self {
            gathered.current = command.map(|(line, source)| (line, source.to_owned()));
        }
    }

    /// Says `text` on thread `number`: at once under `marker` (unique to this message,
    /// so a retry does not post it twice), or into the reply being gathered.
    pub(super) async fn say<G: GitHub>(
        &mut self,
        github: &G,
        scope: &RepoScope,
        number: u64,
        marker: &str,
        text: String,
    ) -> Result<(), StageError> {
        match self {
            Self::Direct => {
                github.comment(scope, number, marker, &text).await?;
            }
            Self::Gathered(gathered) => gathered.push(text),
        }
        Ok(())
    }

    /// Says again what an earlier attempt at this event said before it stored what it did
    /// (a job's approval request): posted messages are there already, but a reply
    /// gathered anew must hold it again.
    pub(super) fn say_again(&mut self, text: impl FnOnce() -> String) {
        if let Self::Gathered(gathered) = self {
            gathered.push(text());
        }
    }

    /// Posts the reply gathered for the comment `envelope` delivered, if there is
    /// anything to say: once, however often the event is processed, as its marker is
    /// the delivery's.
    pub(super) async fn post_reply<G: GitHub>(
        self,
        github: &G,
        scope: &RepoScope,
        number: u64,
        envelope: &Envelope,
        ignored: Option<Ignored>,
    ) -> Result<(), StageError> {
        let Self::Gathered(gathered) = self else {
            return Ok(());
        };
        if let Some(reply) = comment_reply(&gathered.answers, ignored) {
            github
                .comment(scope, number, &marker(envelope, "reply"), &reply)
                .await?;
        }
        Ok(())
    }
}

impl Gathered {
    fn push(&mut self, text: String) {
        self.answers.push(Answer {
            command: self.current.clone(),
            text,
        });
    }
}
