//! The layers hold no FLOP arithmetic: their costs come from the primitives they apply.
//! FLOP rules live in `tabulate-core/src/ops/` and `cost/` only.

#[test]
fn layers_contain_no_flop_formula() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tabulate-core/src/nn");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("nn sources") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("readable");
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in ["Cost", "flops", "transcendentals"] {
                assert!(
                    !code.contains(word),
                    "{}:{}: `{word}` in a layer: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "expected the nn sources, found {checked} files"
    );
}
