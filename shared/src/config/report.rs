//! The message users read when their `.ollama-turbo.yml` is invalid: Markdown for a
//! pull-request comment or a check run's output.

use super::CONFIG_FILE_NAME;
use super::error::{ConfigErrors, ConfigFile, ProblemKind};

/// Lists each problem as `line N, column C, field X: reason` with what to do about it;
/// a file that could not be read at all (too large, not UTF-8, no branch) says so first.
/// When some problems are in the organisation's defaults (the `.github` repository's
/// file), the problems are listed under the file they are in.
pub fn config_errors_comment(errors: &ConfigErrors) -> String {
    let problems = errors.problems();
    let count = match problems.len() {
        1 => "a problem".to_owned(),
        n => format!("{n} problems"),
    };
    let unreadable = problems.iter().all(|problem| problem.kind.is_unreadable());
    let layered = problems
        .iter()
        .any(|problem| matches!(problem.file, ConfigFile::Base(_)));
    let mut out = if layered {
        let what = if unreadable {
            "could not be read".to_owned()
        } else {
            format!("has {count}")
        };
        format!(
            "**The configuration {what}**, so nothing was started. This repository's \
             `{CONFIG_FILE_NAME}` extends the organisation's defaults.\n"
        )
    } else if unreadable {
        format!("**`{CONFIG_FILE_NAME}` could not be read**, so nothing was started.\n\n")
    } else {
        format!("**`{CONFIG_FILE_NAME}` has {count}**, so nothing was started.\n\n")
    };
    let mut file = None;
    for problem in problems {
        if layered && file != Some(&problem.file) {
            file = Some(&problem.file);
            out.push_str(&file_heading(&problem.file));
        }
        // A file that could not be read has no place to name but a line, if that.
        if unreadable && problem.position.is_none() {
            out.push_str(&format!("- {}", capitalized(&problem.kind.to_string())));
        } else {
            out.push_str(&format!("- {}", problem.place()));
            if !problem.field.is_empty() {
                out.push_str(&format!(", field `{}`", problem.field));
            }
            out.push_str(&format!(": {}", problem.kind));
        }
        if let Some(hint) = problem.kind.hint() {
            out.push_str(&format!(" — {hint}"));
        }
        out.push('\n');
    }
    let fix = if problems
        .iter()
        .any(|problem| matches!(problem.kind, ProblemKind::NoSuchBranch { .. }))
    {
        "Once the default branch exists and has a commit, comment again."
    } else if layered {
        "Fix the files on their default branches and try again."
    } else {
        "Fix the file on the default branch and try again."
    };
    out.push_str(&format!("\n{fix}"));
    out.push_str(
        " Every key is described in \
         `docs/config.md` of Ollama Turbo Agent; editors check the file as you type with its \
         JSON Schema, `docs/ollama-turbo.schema.json`. `/ollama help` lists the commands and \
         tasks.\n",
    );
    out
}

/// The line that opens a file's problems in a layered configuration's message.
fn file_heading(file: &ConfigFile) -> String {
    match file {
        ConfigFile::Repository => format!("\nIn this repository's `{CONFIG_FILE_NAME}`:\n"),
        ConfigFile::Base(repo) => {
            format!("\nIn `{CONFIG_FILE_NAME}` of `{repo}`, the organisation's defaults:\n")
        }
    }
}

/// `text` with its first letter in upper case, to open a list item.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
