//! The columns and exports beyond Flax (issue 10): MACs, self FLOPs, memory, trainable
//! split, per-operator breakdown, column choice, compact style, JSON/Markdown/CSV, and the
//! table on error. Numbers are derived by hand from the primitive rules (see each test).

use tabulate::nn::{Dense, relu};
use tabulate::prelude::*;
use tabulate::{Column, Frozen, Metric, MetricValue, Optimizer, RenderOptions};

/// `Dense(4)`, `relu`, `Dense(2)`: glue between two children.
#[derive(Tabulate)]
struct Mlp;

impl Mlp {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = relu(&Dense::new(4).forward(x)?)?;
        Dense::new(2).forward(&h)
    }
}

fn x() -> Tensor {
    Tensor::new(DType::F32, [16, 9])
}

fn all_columns() -> Summary {
    let x = x();
    tabulate(&Mlp)
        .metrics(Metric::ALL)
        .trainable(true)
        .estimate_memory(true)
        .operators(true)
        .run(|m| m.forward(&x))
        .expect("runs")
}

/// Dense(9→4) on f32[16,9]: dot 16·4·9 = 576 MACs = 1152 flops, bias add 64; relu's max
/// 64; Dense(4→2): 16·2·4 = 128 MACs = 256 flops + 32. The root's own operation is relu.
#[test]
fn macs_and_self_flops_follow_the_primitive_rules() {
    let s = all_columns();
    let cols: Vec<_> = s
        .rows
        .iter()
        .map(|r| (r.path.join("/"), r.flops(), r.self_flops(), r.macs()))
        .collect();
    assert_eq!(
        cols,
        [
            (String::new(), Some(1568), Some(64), Some(704)),
            ("Dense_0".into(), Some(1216), Some(1216), Some(576)),
            ("Dense_1".into(), Some(288), Some(288), Some(128)),
        ]
    );
    // Costed directly, the self flops of every row add up to the root's flops.
    let selves: u64 = s.rows.iter().filter_map(tabulate::Row::self_flops).sum();
    assert_eq!(selves, 1568);
}

#[test]
fn operator_breakdown_per_row_and_for_the_model() {
    let s = all_columns();
    let Some(MetricValue::ByOperator(dense)) = s.rows[1].metric(Metric::ByOperator) else {
        panic!("a breakdown");
    };
    let flat: Vec<_> = dense
        .iter()
        .map(|(name, c)| (name.as_str(), c.calls, c.flops, c.macs))
        .collect();
    assert_eq!(
        flat,
        [
            ("add", 1, 64, 0),
            ("dot_general", 1, 1152, 576),
            ("reshape", 1, 0, 0)
        ]
    );
    let model: Vec<_> = s
        .operators
        .as_ref()
        .expect("asked for")
        .iter()
        .map(|(name, c)| (name.as_str(), c.calls, c.flops, c.macs))
        .collect();
    assert_eq!(
        model,
        [
            ("add", 2, 96, 0),
            ("dot_general", 2, 1408, 704),
            ("max", 1, 64, 0),
            ("reshape", 2, 0, 0)
        ]
    );
}

/// The backward pass of the MLP keeps relu's mask (`bool[16,4]`, 64 B) and `Dense_1`'s input
/// (float32[16,4], 256 B), which the kernel's gradient reads. Each Dense alone keeps
/// nothing beyond its input and parameters.
#[test]
fn saved_activations_are_the_vjp_residuals() {
    let s = all_columns();
    let saved = |i: usize| match s.rows[i].metric(Metric::SavedActivations) {
        Some(MetricValue::BytesByDtype(by)) => by.iter().map(|(d, &b)| (d.name(), b)).collect(),
        other => panic!("{other:?}"),
    };
    let root: Vec<(&str, u64)> = saved(0);
    assert_eq!(root, [("bool", 64), ("float32", 256)]);
    assert!(saved(1).is_empty() && saved(2).is_empty());
}

#[test]
fn memory_estimate_adds_up() {
    let s = all_columns();
    let m = s.memory.as_ref().expect("asked for");
    // inputs f32[16,9]; 50 parameters; Adam: two moments.
    assert_eq!(
        (m.inputs, m.variables, m.gradients, m.optimizer_state),
        (576, 200, 200, 400)
    );
    assert_eq!(m.total, 576 + 200 + 200 + 400 + 64 + 256);
    let x = x();
    let sgd = tabulate(&Mlp)
        .estimate_memory(true)
        .optimizer(Optimizer::Sgd)
        .run(|m| m.forward(&x))
        .unwrap();
    assert_eq!(sgd.memory.as_ref().map(|m| m.total), Some(1696 - 400));
    let text = s.render(&RenderOptions::new());
    assert!(
        text.contains("Optimizer State Size (Adam): 400 B"),
        "{text}"
    );
    assert!(text.contains("Saved Activations: 320 B (bool 64 B, float32 256 B)"));
    assert!(text.contains("Estimated Training-Step Memory: 1.7 KB"));
}

#[test]
fn frozen_parameters_are_not_trainable() {
    let x = x();
    let s = tabulate(&Mlp)
        .metrics([Metric::Trainable, Metric::Gradients, Metric::OptimizerState])
        .frozen(Frozen::new(["Dense_0/**"]))
        .optimizer(Optimizer::Momentum)
        .trainable(true)
        .run(|m| m.forward(&x))
        .unwrap();
    let split = s.trainable.expect("asked for");
    assert_eq!((split.trainable.count, split.non_trainable.count), (10, 40));
    let row = |i: usize| {
        let r = &s.rows[i];
        (
            r.metric(Metric::Trainable).cloned(),
            r.metric(Metric::Gradients).and_then(MetricValue::as_bytes),
            r.metric(Metric::OptimizerState)
                .and_then(MetricValue::as_bytes),
        )
    };
    assert_eq!(
        row(1),
        (
            Some(MetricValue::Params { count: 0, bytes: 0 }),
            Some(0),
            Some(0)
        )
    );
    assert_eq!(
        row(2),
        (
            Some(MetricValue::Params {
                count: 10,
                bytes: 40
            }),
            Some(40),
            Some(40)
        )
    );
    let text = s.render(&RenderOptions::new());
    assert!(text.contains("Trainable Parameters: 10 (40 B)"), "{text}");
    assert!(
        text.contains("Non-trainable Parameters: 40 (160 B)"),
        "{text}"
    );
    assert!(text.contains("* frozen parameters count as non-trainable"));
}

/// Columns chosen and ordered, one line per row.
#[test]
fn chosen_columns_in_compact_style() {
    let x = x();
    let s = tabulate(&Mlp)
        .metrics([Metric::Macs, Metric::Flops])
        .run(|m| m.forward(&x))
        .unwrap();
    let options = RenderOptions::new().compact(true).columns([
        Column::Path,
        Column::Outputs,
        Column::Metrics,
        Column::Collections,
    ]);
    let table = "\
┏━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━┳━━━━━━━┳━━━━━━━━━━━━┓
┃ path    ┃ outputs       ┃ macs ┃ flops ┃ params     ┃
┡━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━╇━━━━━━━╇━━━━━━━━━━━━┩
│         │ float32[16,2] │ 704  │ 1568  │            │
├─────────┼───────────────┼──────┼───────┼────────────┤
│ Dense_0 │ float32[16,4] │ 576  │ 1216  │ 40 (160 B) │
├─────────┼───────────────┼──────┼───────┼────────────┤
│ Dense_1 │ float32[16,2] │ 128  │ 288   │ 10 (40 B)  │
├─────────┼───────────────┼──────┼───────┼────────────┤
│         │               │      │ Total │ 50 (200 B) │
└─────────┴───────────────┴──────┴───────┴────────────┘
";
    let notes = "\
* flops: XLA's cost analysis of the call's program (a multiply-add counts 2 flops, an elementwise op 1 per element; convolution taps on padding not counted)
* macs: multiply-accumulates of matmuls and convolutions only (torchvision's and ptflops' convention): no bias, every convolution tap counted on the padded input
";
    // Title and caption centred over the 55 columns of the table, as Flax centres them.
    let expected = format!(
        "\n{:^55}\n{table}{:55}\n{:^55}\n\n{notes}\n",
        "Mlp Summary", "", "Total Parameters: 50 (200 B)"
    );
    assert_eq!(s.render(&options), expected);
}

/// With only Flax's options there is no footnote unless asked for.
#[test]
fn footnotes_only_beyond_flax_or_when_asked() {
    let x = x();
    let flax = tabulate(&Mlp)
        .compute_flops(true)
        .run(|m| m.forward(&x))
        .unwrap();
    assert!(flax.notes.is_empty());
    let noted = tabulate(&Mlp)
        .compute_flops(true)
        .footnotes(true)
        .run(|m| m.forward(&x))
        .unwrap();
    assert_eq!(noted.notes.len(), 1);
    assert!(noted.notes[0].starts_with("flops: XLA's cost analysis"));
}

#[test]
#[cfg(feature = "serde")]
fn json_schema_version_1() {
    let s = all_columns();
    let json = serde_json::to_value(&s).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "schema_version",
        "module_type",
        "metrics",
        "collections",
        "rows",
        "totals",
        "trainable",
        "memory",
        "operators",
        "notes",
    ];
    expected.sort_unstable();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected);
    assert_eq!(json["schema_version"], tabulate::SCHEMA_VERSION);
    assert_eq!(json["metrics"][3], "macs");
    let dense = &json["rows"][1];
    assert_eq!(dense["path"], serde_json::json!(["Dense_0"]));
    assert_eq!(dense["metrics"]["macs"], 576);
    assert_eq!(
        dense["metrics"]["trainable_params"],
        serde_json::json!({"count": 40, "bytes": 160})
    );
    assert_eq!(
        dense["metrics"]["by_operator"]["dot_general"],
        serde_json::json!({"calls": 1, "flops": 1152, "macs": 576})
    );
    assert_eq!(
        json["rows"][0]["metrics"]["saved_activation_bytes"],
        serde_json::json!({"bool": 64, "float32": 256})
    );
    assert_eq!(
        dense["variables"]["params"],
        serde_json::json!({"own": {"bias": {"dtype": "float32", "shape": [4]},
                                   "kernel": {"dtype": "float32", "shape": [9, 4]}},
                           "count": 40, "bytes": 160})
    );
    assert_eq!(
        json["totals"],
        serde_json::json!({"params": {"count": 50, "bytes": 200}})
    );
    assert_eq!(json["memory"]["optimizer"], "adam");
    assert_eq!(json["memory"]["total"], 1696);
    assert_eq!(
        json["trainable"]["non_trainable"],
        serde_json::json!({"count": 0, "bytes": 0})
    );
}

/// RFC 4180 read back: records split on CRLF outside quotes, fields on commas outside
/// quotes, `""` inside quotes is one quote.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => record.push(std::mem::take(&mut field)),
            ('\r', false) if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (c, _) => field.push(c),
        }
    }
    records
}

#[test]
fn csv_round_trips() {
    let s = all_columns();
    let records = parse_csv(&s.to_csv());
    assert_eq!(records.len(), 1 + s.rows.len());
    let header = &records[0];
    let at = |name: &str| header.iter().position(|h| h == name).expect(name);
    for (record, row) in records[1..].iter().zip(&s.rows) {
        assert_eq!(record.len(), header.len());
        assert_eq!(record[at("path")], row.path.join("/"));
        assert_eq!(record[at("macs")], row.macs().unwrap().to_string());
        assert_eq!(record[at("flops")], row.flops().unwrap().to_string());
        assert_eq!(
            record[at("params_count")],
            row.variables[0].counted.count.to_string()
        );
    }
    assert_eq!(records[1][at("inputs")], "float32[16,9]");
    assert_eq!(records[1][at("saved_activation_bytes")], "320");
    assert_eq!(
        records[2][at("by_operator")],
        "add=64;dot_general=1152;reshape=0"
    );
}

#[test]
fn markdown_is_a_github_table() {
    let s = all_columns();
    let md = s.to_markdown();
    let lines: Vec<&str> = md.lines().collect();
    assert_eq!(lines[0], "**Mlp Summary**");
    let header = lines[2];
    let rule = lines[3];
    let columns = header.matches(" | ").count() + 1;
    assert_eq!(rule.matches('|').count(), columns + 1);
    for row in &lines[4..8] {
        assert_eq!(row.matches(" | ").count() + 1, columns, "{row}");
    }
    assert_eq!(
        lines[5],
        "| Dense_0 | Dense | float32[16,9] | float32[16,4] | 1216 | 3620 | 1216 | 576 | \
         add: 64; dot_general: 1152 (576 MACs); reshape: 0 | 40 (160 B) | 0 B | 160 B | 320 B | \
         40 (160 B) |"
    );
}

/// A block whose addition cannot broadcast: `f32[16,4] + f32[5]`.
#[derive(Tabulate)]
struct Broken;

impl Broken {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.add(Tensor::new(DType::F32, [5]))
    }
}

#[derive(Tabulate)]
struct FailsLate;

impl FailsLate {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(4).forward(x)?;
        Broken.forward(&h)
    }
}

#[test]
fn a_failing_forward_pass_carries_its_partial_table() {
    let x = x();
    let plain = tabulate(&FailsLate).run(|m| m.forward(&x)).unwrap_err();
    assert!(plain.partial_summary().is_none());
    let one_line = plain.to_string();
    assert!(
        one_line.starts_with("Broken_0 (Broken): Tensor::add: "),
        "{one_line}"
    );

    let error = tabulate(&FailsLate)
        .table_on_error(true)
        .run(|m| m.forward(&x))
        .unwrap_err();
    let partial = error.partial_summary().expect("a partial table");
    let rows: Vec<_> = partial
        .rows
        .iter()
        .map(|r| (r.path.join("/"), r.outputs.clone()))
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].0, "Dense_0");
    assert_eq!(rows[2].1, tabulate::Value::object("<failed>"));
    let text = error.to_string();
    let (table, message) = text.split_at(text.find("Call `").expect("a message"));
    assert!(
        table.contains("│ Dense_0  │ Dense     │ float32[16,9] │ float32[16,4] │"),
        "{table}"
    );
    assert!(table.contains("Total Parameters: 40 (160 B)"), "{table}");
    let detail = match error.kind() {
        tabulate::ErrorKind::Shape { detail, .. } => detail.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        message,
        format!(
            "Call `Broken_0` (Broken) failed in operation `Tensor::add`: {detail}\n  the call received: float32[16,4]"
        )
    );
}

/// `Dense(3)` twice on f32[16,3]: two identical programs, so the second is answered by
/// the memo of identical subprograms; the columns that depend on more than the program
/// (frozen patterns match the path, self FLOPs the calls inside) must still be the row's
/// own. Each Dense: dot 16·3·3 = 144 MACs = 288 flops, bias add 48.
#[derive(Tabulate)]
struct Twin;

impl Twin {
    #[forward]
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = Dense::new(3).forward(x)?;
        Dense::new(3).forward(&h)
    }
}

#[test]
fn the_memo_never_changes_a_number() {
    let x = Tensor::new(DType::F32, [16, 3]);
    let s = tabulate(&Twin)
        .metrics([
            Metric::Flops,
            Metric::SelfFlops,
            Metric::Macs,
            Metric::Trainable,
        ])
        .frozen(Frozen::new(["Dense_0/**"]))
        .run(|m| m.forward(&x))
        .unwrap();
    let rows: Vec<_> = s
        .rows
        .iter()
        .map(|r| {
            (
                r.path.join("/"),
                r.flops(),
                r.self_flops(),
                r.macs(),
                r.metric(Metric::Trainable).cloned(),
            )
        })
        .collect();
    let params = |count, bytes| Some(MetricValue::Params { count, bytes });
    assert_eq!(
        rows,
        [
            (String::new(), Some(672), Some(0), Some(288), params(0, 0)),
            (
                "Dense_0".into(),
                Some(336),
                Some(336),
                Some(144),
                params(0, 0)
            ),
            (
                "Dense_1".into(),
                Some(336),
                Some(336),
                Some(144),
                params(12, 48)
            ),
        ]
    );
}
