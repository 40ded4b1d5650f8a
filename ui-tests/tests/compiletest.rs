//! The derive and `#[forward]` reject what they cannot handle with a spanned error in
//! plain words (one error per mistake, no cascade). Expected output: `tests/ui/*.stderr`,
//! written by rustc 1.95; after a toolchain change, re-bless with `TRYBUILD=overwrite`
//! and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
