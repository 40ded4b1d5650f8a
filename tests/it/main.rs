//! The integration tests of `tabulate`, in one test binary (issue 12: each file of
//! `tests/` used to be its own binary, compiled and linked separately, which made a cold
//! `cargo test` cost several times the build of the crate). Each former `tests/NAME.rs`
//! is the module `NAME` here: `cargo test --test it NAME` runs its tests, and test names
//! read `NAME::test`. The data they read stays in `tests/` (`tests/golden/`,
//! `tests/differential/`, …), found from `CARGO_MANIFEST_DIR`.
//!
//! None of these tests changes process-global state (environment variables, the current
//! directory): they run in parallel in one process. A test that must set the environment
//! has to take a lock shared by every test that reads it, or pass the setting explicitly
//! (`RenderOptions` takes colour and width as arguments).

mod acts;
mod api;
mod derive_types;
mod differential;
mod errors;
mod features;
mod field_params;
mod flax_summary_test;
mod flax_summary_test_scan;
mod fuzz;
mod golden;
mod integer_pow;
mod jax_cases;
mod layer_errors;
mod layering;
mod layers;
mod naming;
mod no_flop_formulas;
mod part_features;
mod reductions;
mod render;
mod reuse;
mod robustness;
mod scale;
mod scan;
mod wrap;
mod zoo;

/// Every integration test lives in this binary: a `tests/*.rs` file (say, merged in from
/// a branch written before the move) would be built as a separate binary again, so it
/// fails here, naming the file to move to `tests/it/` and declare above.
#[test]
fn every_integration_test_is_a_module_of_this_binary() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut stray: Vec<String> = std::fs::read_dir(&tests)
        .expect("tests directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "rs") || path.join("main.rs").is_file()
        })
        .filter(|path| !path.ends_with("it"))
        .map(|path| path.display().to_string())
        .collect();
    stray.sort();
    assert!(
        stray.is_empty(),
        "move these into tests/it/ and declare them in tests/it/main.rs: {stray:?}"
    );
}
