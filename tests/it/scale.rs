//! Size limits that once were quadratic: 10,000-deep nesting (no stack overflow, paths
//! shared) and many sibling calls, rendering included.

use tabulate::RenderOptions;
use tabulate::prelude::*;

#[path = "../../examples/scaling.rs"]
#[allow(dead_code, unreachable_pub)] // the example's models, without its `main`
mod scaling;

#[test]
fn ten_thousand_deep_nesting_is_summarised_and_rendered() {
    let depth = 10_000;
    let nest = scaling::Nest::new(depth);
    let x = Tensor::new(DType::F32, [1, 4]);
    // The model's own recursion needs a stack proportional to its depth; ours does not.
    let summary = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(depth * 16 * 1024)
            .spawn_scoped(s, || tabulate(&nest).run(|m| m.forward(&x)))
            .expect("spawns")
            .join()
            .expect("no panic")
    })
    .expect("runs");
    assert_eq!(summary.rows.len(), depth);
    let deepest = &summary.rows[depth - 1];
    assert_eq!(deepest.path.len(), depth - 1);
    assert_eq!(deepest.path.name(), Some("inner"));
    // The deepest row's path shares its parent's names.
    assert_eq!(deepest.path.parent(), Some(&summary.rows[depth - 2].path));
    let text = summary.render(&RenderOptions::new().width(80));
    // Each path is cut to its column: `inner/inner/…`.
    let last_row = text
        .lines()
        .rev()
        .find(|l| l.starts_with("│ inner"))
        .expect("a row");
    assert!(last_row.starts_with("│ inner/inner/inner/"), "{last_row}");
    assert!(last_row.contains('…'), "{last_row}");
    assert_eq!(text.lines().count(), 2 * depth + 10);
}

#[test]
fn twenty_thousand_siblings_are_named_in_order() {
    let n = 20_000;
    let stack = scaling::Stack::new(n, 2);
    let x = Tensor::new(DType::F32, [1, 2]);
    let summary = tabulate(&stack).run(|m| m.forward(&x)).expect("runs");
    assert_eq!(summary.rows.len(), n + 1);
    assert_eq!(summary.rows[n].path, ["layers_19999"]);
    assert_eq!(summary.total().count, 6 * 20_000);
    let text = summary.render(&RenderOptions::new().width(120));
    assert!(text.contains("│ layers_19999 │ Dense "), "last row present");
}
