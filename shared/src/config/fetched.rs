//! The configuration from the file as GitHub gave it: what was read is parsed, and every
//! reason it could not be read becomes a problem the user is told about, except a missing
//! file, which means the defaults (or the organisation's, when there are some).

use super::RepoConfig;
use super::encoding::utf8_text;
use super::error::{ConfigErrors, ConfigFile, ProblemKind};
use super::limits::MAX_FILE_BYTES;
use crate::ids::RepoFullName;
use crate::job::{BaseFile, ConfigLayers};
use crate::ports::RepoFile;

/// The configuration that `file`, read from `branch`, holds. A missing file is the
/// default configuration; a file too large, not UTF-8 or not a file, or a branch that
/// does not exist, is one problem to report.
pub fn config_from_file(file: RepoFile, branch: &str) -> Result<RepoConfig, ConfigErrors> {
    layered_config_from_file(file, branch, &ConfigLayers::default())
}

/// The organisation's defaults as read from `repo` (the account's `.github` repository):
/// `None` when it has no file (or no commit); a file that cannot be read is a problem in
/// that file.
pub fn base_from_file(
    file: RepoFile,
    repo: &RepoFullName,
) -> Result<Option<BaseFile>, ConfigErrors> {
    let in_base = |errors: ConfigErrors| errors.in_file(&ConfigFile::Base(Box::new(repo.clone())));
    match file {
        RepoFile::Found(bytes) => {
            if bytes.len() > MAX_FILE_BYTES {
                return Err(in_base(ConfigErrors::unreadable(ProblemKind::TooLarge {
                    size: bytes.len(),
                    limit: MAX_FILE_BYTES,
                })));
            }
            let text =
                utf8_text(&bytes).map_err(|problem| in_base(ConfigErrors::new(vec![problem])))?;
            Ok(Some(BaseFile {
                repo: repo.clone(),
                text: text.to_owned(),
            }))
        }
        RepoFile::Missing | RepoFile::NoSuchRef { .. } => Ok(None),
        RepoFile::TooLarge { bytes } => {
            Err(in_base(ConfigErrors::unreadable(ProblemKind::TooLarge {
                size: usize::try_from(bytes).unwrap_or(usize::MAX),
                limit: MAX_FILE_BYTES,
            })))
        }
        RepoFile::NotAFile { kind } => {
            Err(in_base(ConfigErrors::unreadable(ProblemKind::NotAFile {
                kind,
            })))
        }
    }
}

/// [`config_from_file`] over `layers`: a missing file is the organisation's defaults
/// alone (or the defaults, without any).
pub fn layered_config_from_file(
    file: RepoFile,
    branch: &str,
    layers: &ConfigLayers,
) -> Result<RepoConfig, ConfigErrors> {
    match file {
        RepoFile::Found(bytes) => RepoConfig::parse_bytes_layered(&bytes, layers),
        RepoFile::Missing => RepoConfig::parse_layered("", layers),
        RepoFile::TooLarge { bytes } => Err(ConfigErrors::unreadable(ProblemKind::TooLarge {
            size: usize::try_from(bytes).unwrap_or(usize::MAX),
            limit: MAX_FILE_BYTES,
        })),
        RepoFile::NotAFile { kind } => {
            Err(ConfigErrors::unreadable(ProblemKind::NotAFile { kind }))
        }
        RepoFile::NoSuchRef { empty_repository } => {
            Err(ConfigErrors::unreadable(ProblemKind::NoSuchBranch {
                branch: branch.to_owned(),
                empty_repository,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(file: RepoFile) -> ProblemKind {
        config_from_file(file, "main")
            .expect_err("a problem")
            .problems()[0]
            .kind
            .clone()
    }

    #[test]
    fn a_missing_file_is_the_defaults_and_a_found_one_is_parsed() {
        assert_eq!(
            config_from_file(RepoFile::Missing, "main"),
            Ok(RepoConfig::default())
        );
        assert_eq!(
            config_from_file(RepoFile::Found(b"version: 1\n".to_vec()), "main"),
            Ok(RepoConfig::default())
        );
    }

    #[test]
    fn every_other_outcome_is_a_problem_to_report() {
        assert_eq!(
            kind(RepoFile::TooLarge { bytes: 10 << 20 }),
            ProblemKind::TooLarge {
                size: 10 << 20,
                limit: MAX_FILE_BYTES
            }
        );
        assert_eq!(
            kind(RepoFile::Found(vec![0xFF, 0xFE, b'v', 0])),
            ProblemKind::NotUtf8 { utf16: true }
        );
        assert_eq!(
            kind(RepoFile::NotAFile {
                kind: "dir".to_owned()
            }),
            ProblemKind::NotAFile {
                kind: "dir".to_owned()
            }
        );
        assert_eq!(
            kind(RepoFile::NoSuchRef {
                empty_repository: false
            }),
            ProblemKind::NoSuchBranch {
                branch: "main".to_owned(),
                empty_repository: false
            }
        );
    }
}
