//! The build the cases compile against: `tabulate`'s library as cargo built it for the
//! test run, and the directory of its dependencies.
//!
//! Cargo does not tell a test where its dependencies' files are, and a target directory
//! holds one `libtabulate-<hash>` per feature set and profile it ever built. So the
//! harness asks cargo itself, with the selection of the README's `cargo test` (the
//! workspace's default members, whose dev-dependencies decide the library's hash):
//! `cargo test --no-run --message-format=json` in the same target directory and profile.
//! After that `cargo test`, everything is fresh and the question costs about a second.
//! Run with another selection (`cargo test -p tabulate-ui-tests`, other features), cargo
//! first builds what the workspace's `cargo test` would (slower once, never wrong).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What rustc needs to compile a case against `tabulate`.
pub(crate) struct Artifacts {
    /// The workspace root (cargo's and rustc's working directory).
    pub(crate) workspace: PathBuf,
    /// `--extern tabulate=` this file (the library's `.rmeta` or `.rlib`).
    pub(crate) tabulate: PathBuf,
    /// `-L dependency=` this directory (tabulate-core, tabulate-derive, their dependencies).
    pub(crate) deps: PathBuf,
    /// The target directory, for the cases' own outputs.
    pub(crate) target: PathBuf,
}

impl Artifacts {
    /// Asks cargo for the library the running test binary was built beside.
    pub(crate) fn locate(workspace: &Path) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("the test binary's path: {e}"))?;
        // A test binary lives in <target>/<profile directory>/deps/.
        let deps = exe.parent().ok_or("the test binary has no directory")?;
        let profile_dir = deps
            .parent()
            .ok_or("the test binary is not in a `deps` directory")?;
        let target = profile_dir
            .parent()
            .ok_or("the profile directory has no parent")?;
        // `cargo test` builds into `debug` (its default profile, given no flag), `--release`
        // into `release`, `--profile NAME` into `NAME`.
        let profile: &[&str] = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => &[],
            Some("release") => &["--release"],
            Some(name) => &["--profile", name],
            None => return Err(format!("no profile in {}", profile_dir.display())),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(&cargo)
            .current_dir(workspace)
            .args(["test", "--no-run", "--message-format=json"])
            .args(profile)
            .arg("--target-dir")
            .arg(target)
            .output()
            .map_err(|e| format!("running {}: {e}", Path::new(&cargo).display()))?;
        if !output.status.success() {
            return Err(format!(
                "`cargo test --no-run` failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let messages = String::from_utf8_lossy(&output.stdout);
        let rebuilt = rebuilt(&messages);
        if !rebuilt.is_empty() {
            // Not an error: the cases are checked against what cargo just built. But the
            // test run had built `tabulate` otherwise (other features or flags), which
            // costs this second build: say so, for whoever wonders where the time went.
            eprintln!(
                "ui-tests: cargo built {} again for the UI cases",
                rebuilt.join(", ")
            );
        }
        let tabulate = library(&messages)
            .ok_or_else(|| "cargo reported no library artifact for `tabulate`".to_owned())?;
        let deps = tabulate
            .parent()
            .map(Path::to_path_buf)
            .ok_or("the library has no directory")?;
        Ok(Artifacts {
            workspace: workspace.to_path_buf(),
            tabulate,
            deps,
            target: target.to_path_buf(),
        })
    }
}

/// The packages cargo compiled rather than found fresh.
fn rebuilt(messages: &str) -> Vec<String> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact" && message["fresh"] == false)
        .filter_map(|message| message["target"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// The `tabulate` library's file in `deps/` among cargo's JSON messages.
fn library(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == "tabulate"
                && message["profile"]["test"] == false
                && message["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "lib"))
        })
        .flat_map(|message| {
            message["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
        })
        .filter_map(|file| file.as_str().map(PathBuf::from))
        .find(|file| {
            file.parent()
                .and_then(Path::file_name)
                .is_some_and(|dir| dir == "deps")
        })
}
