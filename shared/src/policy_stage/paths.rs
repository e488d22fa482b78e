//! The `paths` / `paths_ignore` filters of the `pr_opened` and `push` triggers: which
//! files a change touches (from the push payload when it lists them all, else from
//! GitHub), and whether the filter lets the trigger's tasks start.

use super::{PolicyStage, StageError, Store};
use crate::config::PathFilter;
use crate::envelope::Envelope;
use crate::ports::{ChangeSet, ChangedPaths, GitHub, RepoScope, Workflow};

impl<G: GitHub, S: Store, W: Workflow> PolicyStage<G, S, W> {
    /// Whether the change passes `filter`. `known` are the changed paths when the event
    /// carries them all; otherwise GitHub is asked for `change`. When GitHub's list is
    /// cut short (over 3,000 files of a pull request, 300 of a comparison) and the listed
    /// files alone don't pass, the unlisted ones might: the tasks start, and the log says
    /// why — a skipped job would be lost silently, an extra one is visible.
    pub(super) async fn paths_admit(
        &self,
        envelope: &Envelope,
        scope: &RepoScope,
        filter: &PathFilter,
        known: Option<Vec<String>>,
        change: ChangeSet,
    ) -> Result<bool, StageError> {
        if !filter.is_set() {
            return Ok(true);
        }
        let changed = match known {
            Some(paths) => ChangedPaths {
                paths,
                complete: true,
            },
            None => self.github.changed_paths(scope, &change).await?,
        };
        if filter.admits(&changed.paths) {
            return Ok(true);
        }
        if !changed.complete {
            tracing::warn!(
                delivery = %envelope.delivery,
                repo = %scope.repo,
                listed = changed.paths.len(),
                "GitHub listed only part of the changed files and none of those pass the \
                 trigger's paths; starting the tasks anyway"
            );
            return Ok(true);
        }
        tracing::info!(
            delivery = %envelope.delivery,
            repo = %scope.repo,
            changed = changed.paths.len(),
            "no changed file passes the trigger's paths; nothing started"
        );
        Ok(false)
    }
}
