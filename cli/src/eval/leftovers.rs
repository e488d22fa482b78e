/// What trying a task by hand leaves in its directory (builds, installs, bytecode) and
/// never belongs to a task: left out of the embedded built-in suite (`build.rs` includes
/// this file) and of a suite read from disk.
pub const LEFTOVERS: &[&str] = &["target", "node_modules", "__pycache__", ".git"];
