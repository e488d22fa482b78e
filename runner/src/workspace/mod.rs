//! The job's clone: fetched at the job's commit, committed on the job's branch, pushed.
//!
//! Git runs as a child process with a cleared environment ([`git`]). The installation
//! token reaches it only through that environment, as an `http.<base>.extraHeader`
//! (`Authorization: Basic base64(x-access-token:TOKEN)`) set with `GIT_CONFIG_COUNT`,
//! `GIT_CONFIG_KEY_0` and `GIT_CONFIG_VALUE_0`: never on a command line (which any process
//! can read in `/proc`), never in `.git/config` or another file, never in the remote URL,
//! and only for the Git host's URLs. Each network operation takes a [`GitAuth`] made from
//! a token asked for just before, so a job that outlives one token uses a fresh one.
//!
//! The clone is partial and shallow (`--filter=blob:none`, depth 1): only the commit's
//! tree comes at first, and blobs as the checkout needs them.

mod checkout;
mod git;
mod snapshot;

pub use checkout::{Checkout, Identity, PushError};
pub use git::{GitAuth, GitError, GitIoError, Remote, output as git_output};
pub use snapshot::{Snapshot, Snapshots};
