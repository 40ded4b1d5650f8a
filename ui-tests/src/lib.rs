//! The compile-fail harness of `tabulate`'s macros: every `tests/ui/*.rs` must fail to
//! compile with exactly the diagnostics of its `tests/ui/*.stderr`.
//!
//! Each case is checked by rustc directly (`--emit=metadata`, as `cargo check` would),
//! against the `tabulate` library the test run already built: no second build of the
//! dependencies, no target directory of its own (what trybuild, which this replaces, cost:
//! a second build of syn, tabulate-derive and tabulate-core in `target/tests/trybuild`,
//! about a sixth of a cold `cargo test`). The expected files are in trybuild's normalized
//! form (see `src/normalize.rs`); `UI_BLESS=1 cargo test -p tabulate-ui-tests` rewrites them
//! from the compiler's current output — review the diff.

mod artifacts;
mod normalize;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use artifacts::Artifacts;
use normalize::{Context, normalize};

/// The edition the cases are written in (the workspace's).
const EDITION: &str = "2024";

/// Checks every `*.rs` of `dir` (relative to the `ui-tests` crate): each must fail to
/// compile with the diagnostics of the `.stderr` beside it. Returns a report of every
/// case that did not, or of why the cases could not be run.
///
/// ```no_run
/// tabulate_ui_tests::compile_fail("tests/ui").unwrap_or_else(|report| panic!("{report}"));
/// ```
pub fn compile_fail(dir: &str) -> Result<(), String> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = crate_dir
        .parent()
        .ok_or("the ui-tests crate has no parent")?;
    let artifacts = Artifacts::locate(workspace)?;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(crate_dir.join(dir))
        .map_err(|e| format!("reading {dir}: {e}"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    cases.sort();
    if cases.is_empty() {
        return Err(format!("no case in {dir}"));
    }
    let outputs = artifacts.target.join("ui-tests");
    std::fs::create_dir_all(&outputs)
        .map_err(|e| format!("creating {}: {e}", outputs.display()))?;
    let bless = std::env::var_os("UI_BLESS").is_some();
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(cases.iter());
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(cases.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(case) = next
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .next()
                {
                    if let Err(failure) = check(case, crate_dir, &artifacts, bless) {
                        failures
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(failure);
                    }
                }
            });
        }
    });
    let mut failures = failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if failures.is_empty() {
        return Ok(());
    }
    failures.sort();
    let mut report = format!("{} of {} UI cases failed:\n", failures.len(), cases.len());
    for failure in failures {
        let _ = writeln!(report, "\n{failure}");
    }
    Err(report)
}

/// Compiles one case and compares its normalized stderr with the expected file.
fn check(case: &Path, crate_dir: &Path, artifacts: &Artifacts, bless: bool) -> Result<(), String> {
    let name = case
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("a case without a name")?;
    let input = case
        .strip_prefix(&artifacts.workspace)
        .map_err(|_| format!("{} is outside the workspace", case.display()))?;
    let input = input.to_string_lossy().replace('\\', "/");
    let prefix = crate_dir
        .strip_prefix(&artifacts.workspace)
        .map(|p| format!("{}/", p.to_string_lossy().replace('\\', "/")))
        .unwrap_or_default();
    let out = artifacts
        .target
        .join("ui-tests")
        .join(format!("{name}.rmeta"));
    let output = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .current_dir(&artifacts.workspace)
        .args([
            "--edition",
            EDITION,
            "--crate-type",
            "bin",
            "--emit=metadata",
        ])
        .args(["--crate-name", &name.replace('-', "_")])
        .args([
            "--error-format=human",
            "--color=never",
            "--diagnostic-width=140",
            "-A",
            "dead_code",
        ])
        .arg("-o")
        .arg(&out)
        .arg("-L")
        .arg(format!("dependency={}", artifacts.deps.display()))
        .arg("--extern")
        .arg(format!("tabulate={}", artifacts.tabulate.display()))
        .arg(&input)
        .output()
        .map_err(|e| format!("{name}: running rustc: {e}"))?;
    let workspace = artifacts.workspace.to_string_lossy().replace('\\', "/");
    let context = Context {
        input: &input,
        input_prefix: &prefix,
        workspace: &workspace,
    };
    let actual = normalize(&String::from_utf8_lossy(&output.stderr), &context);
    if output.status.success() {
        return Err(format!("{name}: compiled, but must fail\n{actual}"));
    }
    let expected_path = case.with_extension("stderr");
    if bless {
        return std::fs::write(&expected_path, &actual)
            .map_err(|e| format!("{name}: writing {}: {e}", expected_path.display()));
    }
    let expected = std::fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "{name}: reading {}: {e} (UI_BLESS=1 writes it)\nactual:\n{actual}",
            expected_path.display()
        )
    })?;
    if expected.replace("\r\n", "\n") == actual {
        Ok(())
    } else {
        Err(format!(
            "{name}: the diagnostics differ\n--- expected\n{expected}--- actual\n{actual}"
        ))
    }
}
