//! The adapter holds no cost arithmetic: every number comes from `tabulate-core`'s
//! primitive rules, through the replay. (Phase 1 copied the rules into `src/cost.rs`.)

#[test]
fn adapter_contains_no_flop_formula() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("sources") {
        let path = entry.expect("entry").path();
        let source = std::fs::read_to_string(&path).expect("readable");
        for (n, line) in source.lines().enumerate() {
            // Choosing `tabulate`'s columns is not arithmetic.
            let code = line
                .split("//")
                .next()
                .unwrap_or("")
                .replace("compute_vjp_flops", "")
                .replace("compute_flops", "");
            for word in ["Cost", "flops", "macs", "transcendentals"] {
                assert!(
                    !code.contains(word),
                    "{}:{}: `{word}` in the adapter: {line}",
                    path.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 7,
        "expected the adapter's sources, found {checked} files"
    );
}
