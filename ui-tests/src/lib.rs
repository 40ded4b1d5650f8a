//! Nothing to use: this crate holds the compile-fail cases of `tabulate`'s macros
//! (`tests/ui/*.rs`, run by `tests/compiletest.rs`). Cargo needs a target besides tests.
