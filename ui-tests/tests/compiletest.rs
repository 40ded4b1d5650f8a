//! The derive and `#[forward]` reject what they cannot handle with a spanned error in
//! plain words (one error per mistake, no cascade). Expected output: `tests/ui/*.stderr`,
//! written by rustc 1.95; after a toolchain change, re-bless with `UI_BLESS=1` and review
//! the diff.

#[test]
fn ui() {
    if let Err(report) = tabulate_ui_tests::compile_fail("tests/ui") {
        panic!("{report}");
    }
}
