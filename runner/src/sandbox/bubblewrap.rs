//! The `bwrap` command line for one command: new namespaces, an allowlist of read-only
//! binds, the clone read-write with its `.git` read-only, private `/tmp` and `HOME`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use super::Network;

/// The command's `HOME` inside the sandbox: on its private `/tmp`.
pub const SANDBOX_HOME: &str = "/tmp/home";

/// The uid and gid the command has inside its user namespace (`nobody`): never root, so
/// it holds no capability there either.
const SANDBOX_ID: &str = "65534";

/// The host's system directories, bound read-only (a symlink, as on merged-/usr systems,
/// is recreated as the same symlink).
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Files under `/etc` that hold credentials on some hosts: hidden even though `/etc` is
/// bound (the command's files on the host belong to the runner's uid).
const HIDDEN_IN_ETC: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/ssh",
];

/// Variables that name a toolchain's home: bound read-only when set to an existing
/// directory. `PYTHONPATH` is a list.
const TOOLCHAIN_HOMES: &[&str] = &[
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOROOT",
    "GOPATH",
    "GOMODCACHE",
    "JAVA_HOME",
    "GRADLE_USER_HOME",
    "VIRTUAL_ENV",
    "PYTHONPATH",
];

/// Files in a toolchain's home that hold a registry's credentials: hidden.
const CREDENTIAL_FILES: &[&str] = &[
    "credentials.toml",
    "credentials",
    "gradle.properties",
    ".npmrc",
    ".pypirc",
];

/// Caches the command's tools would write to on the host: dropped, so the tools use
/// their defaults under the private `HOME`.
const HOST_CACHES: &[&str] = &[
    "GOCACHE",
    "UV_CACHE_DIR",
    "PIP_CACHE_DIR",
    "npm_config_cache",
];

/// The `bwrap` on `PATH`, once checked to start a sandbox on this host.
pub(super) fn usable() -> Result<PathBuf, String> {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHECKED.get_or_init(check).clone()
}

fn check() -> Result<PathBuf, String> {
    if !cfg!(target_os = "linux") {
        return Err("bubblewrap exists only on Linux".to_owned());
    }
    let program = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("bwrap"))
        .find(|path| path.is_file())
        .ok_or_else(|| "`bwrap` (bubblewrap) is not on PATH".to_owned())?;
    let mut args = namespaces(Network::None);
    args.extend(system_binds());
    args.extend(["--".into(), "true".into()]);
    let output = std::process::Command::new(&program)
        .args(&args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("{} could not start: {err}", program.display()))?;
    if output.status.success() {
        Ok(program)
    } else {
        Err(format!(
            "{} can't make a sandbox on this host ({})",
            program.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn namespaces(network: Network) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        SANDBOX_ID,
        "--gid",
        SANDBOX_ID,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--dir",
        SANDBOX_HOME,
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    if network == Network::Host {
        args.push("--share-net".into());
    }
    args
}

fn system_binds() -> Vec<OsString> {
    let mut args = Vec::new();
    for dir in SYSTEM_DIRS {
        let path = Path::new(dir);
        match std::fs::read_link(path) {
            Ok(target) => {
                args.extend(["--symlink".into(), target.into_os_string(), dir.into()]);
            }
            Err(_) if path.is_dir() => args.extend(["--ro-bind".into(), dir.into(), dir.into()]),
            Err(_) => {}
        }
    }
    for hidden in HIDDEN_IN_ETC {
        let path = Path::new(hidden);
        if path.is_dir() {
            args.extend(["--tmpfs".into(), hidden.into()]);
        } else if path.exists() {
            args.extend(["--ro-bind".into(), "/dev/null".into(), hidden.into()]);
        }
    }
    args
}

/// A directory worth binding: absolute, existing, and not `/` or a top-level directory
/// (`/root`, `/home`), which would bind far more than a toolchain.
fn bindable(path: &Path) -> bool {
    path.is_absolute() && path.components().count() > 2 && path.is_dir()
}

/// The command's environment inside the sandbox, and the toolchain directories to bind:
/// `HOME` and `TMPDIR` private, Cargo's and rustup's default homes made explicit (they
/// would otherwise be looked for under the private `HOME`), host caches dropped.
fn toolchains(env: &[(String, String)]) -> (Vec<(String, String)>, Vec<PathBuf>) {
    let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut inside: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "HOME" && k != "TMPDIR" && !HOST_CACHES.contains(&k.as_str()))
        .cloned()
        .collect();
    if let Some(home) = get("HOME") {
        for (name, default) in [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")] {
            let dir = Path::new(&home).join(default);
            if get(name).is_none() && bindable(&dir) {
                inside.push((name.to_owned(), dir.display().to_string()));
            }
        }
    }
    inside.push(("HOME".to_owned(), SANDBOX_HOME.to_owned()));
    inside.push(("TMPDIR".to_owned(), "/tmp".to_owned()));
    let mut binds: Vec<PathBuf> = Vec::new();
    let lookup = |name: &str| {
        inside
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    for name in TOOLCHAIN_HOMES {
        if let Some(value) = lookup(name) {
            binds.extend(std::env::split_paths(&value));
        }
    }
    // Tools on PATH outside the system directories (`~/.cargo/bin`, `/opt/node/bin`).
    if let Some(path) = lookup("PATH") {
        binds.extend(std::env::split_paths(&path).filter(|dir| {
            dir.file_name()
                .is_some_and(|name| name == "bin" || name == "sbin")
        }));
    }
    binds.retain(|dir| bindable(dir) && !SYSTEM_DIRS.iter().any(|sys| dir.starts_with(sys)));
    binds.sort();
    binds.dedup();
    (inside, binds)
}

/// The whole `bwrap` command line that runs `sh -c command` in `dir`, and the
/// environment to start it with.
pub(super) fn command_line(
    dir: &Path,
    command: &str,
    env: &[(String, String)],
    network: Network,
    hidden: &[PathBuf],
) -> (Vec<OsString>, Vec<(String, String)>) {
    let (inside, binds) = toolchains(env);
    let mut args = namespaces(network);
    args.extend(system_binds());
    let mut hidden = hidden.to_vec();
    for bind in binds {
        hidden.extend(CREDENTIAL_FILES.iter().map(|name| bind.join(name)));
        args.extend(["--ro-bind".into(), bind.clone().into(), bind.into()]);
    }
    args.extend(["--bind".into(), dir.into(), dir.into()]);
    let git = dir.join(".git");
    if git.exists() {
        // Hooks and config in `.git` run later in the runner's own git commands.
        args.extend(["--ro-bind".into(), git.clone().into(), git.into()]);
    }
    for path in hidden {
        if path.is_dir() {
            args.extend(["--tmpfs".into(), path.into()]);
        } else if path.exists() {
            args.extend(["--ro-bind".into(), "/dev/null".into(), path.into()]);
        }
    }
    args.extend(["--chdir".into(), dir.into()]);
    args.extend(["--".into(), "sh".into(), "-c".into(), command.into()]);
    (args, inside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_home_and_only_toolchain_directories() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".cargo/bin")).unwrap();
        let env = vec![
            ("HOME".to_owned(), home.path().display().to_string()),
            (
                "PATH".to_owned(),
                format!("{}/.cargo/bin:/usr/bin:/", home.path().display()),
            ),
            ("GOCACHE".to_owned(), "/var/cache/go".to_owned()),
            ("JAVA_HOME".to_owned(), "/".to_owned()),
        ];
        let (inside, binds) = toolchains(&env);
        let get = |name: &str| inside.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        assert_eq!(get("HOME").map(String::as_str), Some(SANDBOX_HOME));
        assert_eq!(
            get("CARGO_HOME"),
            Some(&home.path().join(".cargo").display().to_string())
        );
        assert_eq!(get("GOCACHE"), None);
        assert_eq!(
            binds,
            vec![home.path().join(".cargo"), home.path().join(".cargo/bin")]
        );
    }
}
