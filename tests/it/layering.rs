//! The top-level modules of `tabulate-core/src` form layers: each may use only the ones
//! listed before it, so there is no import cycle between them (a cycle inside one folder
//! is fine). This test reads every file's `crate::` paths and fails on a back-edge.

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest first. `lib.rs`, the crate root, may use every layer.
const LAYERS: &[&str] = &[
    "hash",      // hashers for ids and hashes
    "dtype",     // element types
    "shape",     // dimensions, broadcasting
    "options",   // `Mutable`
    "spec",      // dtype + shape of a value
    "path",      // module paths: shared, interned chains of names
    "scope",     // the leaf cell: innermost call, birthplace, described tensors
    "error",     // the one error type
    "value",     // value trees of inputs and outputs
    "tensor",    // the abstract tensor (data only)
    "ops",       // the IR: graph arena, primitives, their rules and rule contexts
    "param",     // `Param`: a variable declared as a field (data only)
    "module",    // the `Tabulate` trait, visitors, module identity
    "trace",     // the recorder
    "call",      // the public call API (`enter_call`, `module_call`, `ForwardOutput`)
    "lax",       // primitives applied to tensors; tensor methods
    "variable",  // `param` / `variable`
    "random",    // `jax.random`
    "nn",        // built-in layers
    "cost",      // the costing stage: metrics per call
    "summary",   // rows, formatting, rendering
    "tabulator", // the entry point tying the stages together
];

/// Every `crate::name` used in `source`, comments left out.
fn crate_paths(source: &str) -> BTreeSet<String> {
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `use crate::{a::X, b::{Y, Z}};`: the first name of each top-level item
            let mut depth = 0;
            let mut at_item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_item_start = true,
                    c if at_item_start && (c.is_alphanumeric() || c == '_') => {
                        names.insert(ident_at(&group[i..]));
                        at_item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            names.insert(ident_at(after));
        }
        rest = after;
    }
    names
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn top_level_modules_form_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tabulate-core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut back_edges = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component");
        let first = first.as_os_str().to_string_lossy();
        let module = first.strip_suffix(".rs").unwrap_or(&first);
        if module == "lib" {
            continue;
        }
        let Some(own) = rank(module) else {
            back_edges.push(format!("{module}: not in LAYERS; place it there"));
            continue;
        };
        let source = std::fs::read_to_string(file).expect("readable");
        for used in crate_paths(&source) {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r < own => {}
                Some(_) => back_edges.push(format!(
                    "{} uses crate::{used}, a layer above `{module}`",
                    relative.display()
                )),
                // Items re-exported at the crate root (`crate::Tensor`) are only
                // allowed in doc links, which the comment filter removes.
                None => back_edges.push(format!(
                    "{} uses crate::{used}, which is not a layer",
                    relative.display()
                )),
            }
        }
    }
    assert!(
        back_edges.is_empty(),
        "back-edges:\n{}",
        back_edges.join("\n")
    );
}

#[test]
fn the_reader_sees_paths() {
    let found = crate_paths(
        "use crate::ops::{Prim, Unary};\nuse crate::{\n    cost,\n    trace::{X, Y},\n    value,\n};\n// crate::nn\nlet x = crate::scope::birthplace();",
    );
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["cost", "ops", "scope", "trace", "value"]);
}
