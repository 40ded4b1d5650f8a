//! The public surface: defaults, data access, serialisation, and layers used outside a
//! summary.

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;
use tabulate::{ColorChoice, Describe, Metric, RenderOptions};

use crate::golden::foo;

fn golden(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(path).expect("golden exists")
}

#[test]
fn summary_uses_flax_defaults() {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = foo::Foo.summary(&x).unwrap();
    assert!(!summary.shows(Metric::Flops) && !summary.shows(Metric::VjpFlops));
    assert!(summary.metrics.is_empty());
    assert_eq!(summary.rows[1].flops(), None);
    // Flax's defaults at width 200: the `noflops` golden.
    let text = summary.render(&RenderOptions::new().width(200));
    assert_eq!(text, golden("seed__noflops.plain.txt"));
    // Natural width is the same for a table narrower than 200 columns.
    assert_eq!(summary.render(&RenderOptions::new()), text);
    let coloured = summary.render(&RenderOptions::new().color(ColorChoice::Always));
    assert_eq!(coloured, golden("seed__noflops.txt"));
}

#[test]
#[cfg(feature = "serde")]
fn summaries_are_plain_data() {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&foo::Foo)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    assert_eq!(summary.module_type, "Foo");
    assert_eq!(summary.collections, ["params"]);
    let flops: Vec<_> = summary
        .rows
        .iter()
        .map(|r| (r.flops(), r.vjp_flops()))
        .collect();
    assert_eq!(
        flops,
        [
            (Some(1504), Some(4460)),
            (Some(1216), Some(3620)),
            (Some(288), Some(840))
        ]
    );
    let dense = &summary.rows[1];
    assert_eq!(
        dense.variables[0]
            .own
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["bias", "kernel"]
    );
    assert_eq!(dense.variables[0].counted.bytes, 160);
    assert_eq!((summary.total().count, summary.total().bytes), (50, 200));

    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["rows"][1]["path"], serde_json::json!(["Dense_0"]));
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["rows"][1]["metrics"]["vjp_flops"], 3620);
    assert_eq!(
        json["rows"][1]["inputs"],
        serde_json::json!({"kind": "array", "dtype": "float32", "shape": [16, 9]})
    );
    assert_eq!(
        json["rows"][1]["variables"]["params"]["own"]["kernel"],
        serde_json::json!({"dtype": "float32", "shape": [9, 4]})
    );
    assert_eq!(
        json["totals"]["params"],
        serde_json::json!({"count": 50, "bytes": 200})
    );
}

#[test]
fn layers_work_without_a_summary() {
    let x = Tensor::new(DType::BF16, [2, 7, 9]);
    let y = relu(&Dense::new(5).forward(&x).unwrap()).unwrap();
    // bfloat16 input with float32 parameters computes in float32, as Flax promotes.
    assert_eq!(y.to_string(), "float32[2,7,5]");
    let y = Dense::new(5)
        .dtype(DType::BF16)
        .use_bias(false)
        .forward(&x)
        .unwrap();
    assert_eq!(y.to_string(), "bfloat16[2,7,5]");
    assert_eq!(
        foo::Foo
            .forward(&Tensor::new(DType::F32, [3, 9]))
            .unwrap()
            .to_string(),
        "float32[3,2]"
    );
}

#[test]
fn parameters_follow_their_dtype() {
    let x = Tensor::new(DType::F32, [4, 8]);
    let dense = Dense::new(16).param_dtype(DType::BF16);
    let summary = tabulate(&dense)
        .compute_flops(true)
        .run(|d| d.forward(&x))
        .unwrap();
    assert_eq!(summary.total().count, 8 * 16 + 16);
    assert_eq!(summary.total().bytes, 2 * (8 * 16 + 16));
    // The bfloat16 parameters are converted to float32 first: 2*4*8*16 + 4*16 + 144 converts.
    assert_eq!(summary.rows[0].flops(), Some(1024 + 64 + 144));
}

#[test]
fn any_width_renders_without_panicking() {
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&foo::Foo)
        .compute_flops(true)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    for width in 0..120 {
        let text = summary.render(&RenderOptions::new().width(width));
        assert!(
            text.contains("Foo Summary") || width < 20,
            "width {width}:\n{text}"
        );
        // rich shrinks columns until the table fits, with at least a border per column.
        if width >= 30 {
            let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
            assert!(widest <= width, "width {width} gave {widest}:\n{text}");
        }
    }
}

#[test]
#[cfg(feature = "serde")]
fn mappings_serialise_as_objects_and_rows_name_their_metrics() {
    let value = tabulate::Value::mapping([
        ("b", tabulate::Value::object("True")),
        ("a", Tensor::new(DType::F32, [2]).describe()),
    ]);
    assert_eq!(
        serde_json::to_value(&value).unwrap(),
        serde_json::json!({
            "kind": "mapping",
            "entries": {
                "a": {"kind": "array", "dtype": "float32", "shape": [2]},
                "b": {"kind": "object", "repr": "True"}
            }
        })
    );
    let x = Tensor::new(DType::F32, [16, 9]);
    let summary = tabulate(&foo::Foo)
        .compute_vjp_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    assert_eq!(summary.metrics, [Metric::VjpFlops]);
    let row = &summary.rows[1];
    assert_eq!((row.flops(), row.vjp_flops()), (None, Some(3620)));
    let json = serde_json::to_value(row).unwrap();
    assert_eq!(json["metrics"]["vjp_flops"], 3620);
    assert!(json["metrics"].get("flops").is_none());
    assert_eq!(
        row.metrics()
            .iter()
            .map(|(m, v)| (m.header(), v.as_count()))
            .collect::<Vec<_>>(),
        [("vjp_flops", Some(3620))]
    );
}
