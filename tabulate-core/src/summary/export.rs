//! Machine-readable forms of a [`Summary`]: its JSON object (through `serde`), a GitHub
//! Markdown table and RFC 4180 CSV.

use std::fmt::Write as _;

#[cfg(feature = "serde")]
use serde::ser::{SerializeMap, SerializeStruct};
#[cfg(feature = "serde")]
use serde::{Serialize, Serializer};

use super::Summary;
use super::format;
use super::render::Column;
#[cfg(feature = "serde")]
use super::{Leaf, Row, RowVariables};
use crate::cost::MetricValue;

/// The version of the JSON object a [`Summary`] serialises to. It changes only when a
/// field is removed or changes meaning; new fields may appear within a version.
///
/// Version 1:
///
/// ```text
/// {
///   "schema_version": 1,
///   "module_type": "Foo",
///   "metrics": ["flops", "macs"],              // headers of the computed columns
///   "collections": ["params"],
///   "rows": [{
///     "path": ["Dense_0"], "module_type": "Dense", "method": "forward",
///     "inputs": <value>, "outputs": <value>,   // {"kind": "array", "dtype", "shape"}, …
///     "metrics": {"flops": 1216, "macs": 576}, // by header; see `MetricValue`
///     "variables": {"params": {"own": {"bias": {"dtype": "float32", "shape": [4]}, …},
///                              "count": 40, "bytes": 160}}
///     // only when present: a leaf's "partition": [null, "data"] (`with_partitioning`),
///     // a collection's "values": {"h": <value>} (what `sow` stored, a sequence)
///   }],
///   "totals": {"params": {"count": 50, "bytes": 200}},
///   "trainable": null | {"trainable": {"count", "bytes"}, "non_trainable": {…}},
///   "memory": null | {"optimizer": "adam", "inputs", "variables", "gradients",
///                     "optimizer_state", "saved_activations": {"float32": 256}, "total"},
///   "operators": null | {"dot_general": {"calls": 2, "flops": 1440, "macs": 720}, …},
///   "notes": ["…"]
/// }
/// ```
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
/// # #[cfg(feature = "serde")] {
/// let json = serde_json::to_value(&summary).unwrap();
/// assert_eq!(json["schema_version"], tabulate::SCHEMA_VERSION);
/// assert_eq!(json["rows"][0]["variables"]["params"]["count"], 40);
/// # }
/// # Ok::<(), tabulate::Error>(())
/// ```
pub const SCHEMA_VERSION: u32 = 1;

#[cfg(feature = "serde")]
impl Serialize for Summary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Summary", 11)?;
        s.serialize_field("schema_version", &SCHEMA_VERSION)?;
        s.serialize_field("module_type", &self.module_type)?;
        let headers: Vec<&str> = self.metrics.iter().map(|m| m.header()).collect();
        s.serialize_field("metrics", &headers)?;
        s.serialize_field("collections", &self.collections)?;
        let rows: Vec<RowJson<'_>> = self
            .rows
            .iter()
            .map(|row| RowJson {
                row,
                collections: &self.collections,
            })
            .collect();
        s.serialize_field("rows", &rows)?;
        s.serialize_field("totals", &ByCollection(&self.collections, &self.totals))?;
        s.serialize_field("trainable", &self.trainable)?;
        s.serialize_field("memory", &self.memory)?;
        s.serialize_field("operators", &self.operators)?;
        s.serialize_field("notes", &self.notes)?;
        s.end()
    }
}

#[cfg(feature = "serde")]
impl Serialize for Row {
    /// A row as it appears in a summary's `rows`, its variables keyed by position
    /// (`"0"`, `"1"`, …) since a row alone does not know the collections' names.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names: Vec<String> = (0..self.variables.len()).map(|i| i.to_string()).collect();
        RowJson {
            row: self,
            collections: &names,
        }
        .serialize(serializer)
    }
}

#[cfg(feature = "serde")]
/// Values keyed by collection name.
struct ByCollection<'a, T>(&'a [String], &'a [T]);

#[cfg(feature = "serde")]
impl<T: Serialize> Serialize for ByCollection<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().zip(self.1))
    }
}

#[cfg(feature = "serde")]
struct RowJson<'a> {
    row: &'a Row,
    collections: &'a [String],
}

#[cfg(feature = "serde")]
impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let mut s = serializer.serialize_struct("Row", 7)?;
        s.serialize_field("path", &row.path)?;
        s.serialize_field("module_type", &row.module_type)?;
        s.serialize_field("method", &row.method)?;
        s.serialize_field("inputs", &row.inputs)?;
        s.serialize_field("outputs", &row.outputs)?;
        s.serialize_field("metrics", &row.metrics)?;
        s.serialize_field("variables", &ByCollection(self.collections, &row.variables))?;
        s.end()
    }
}

#[cfg(feature = "serde")]
impl Serialize for RowVariables {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RowVariables", 3)?;
        s.serialize_field("own", &Leaves(&self.own))?;
        s.serialize_field("count", &self.counted.count)?;
        s.serialize_field("bytes", &self.counted.bytes)?;
        if !self.values.is_empty() {
            // Sown tuples, by name (only present when there are some).
            let values: Vec<(&String, &crate::value::Value)> =
                self.values.iter().map(|(k, v)| (k, v)).collect();
            s.serialize_field("values", &ValuesJson(&values))?;
        }
        s.end()
    }
}

#[cfg(feature = "serde")]
struct Leaves<'a>(&'a [Leaf]);

#[cfg(feature = "serde")]
impl Serialize for Leaves<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for leaf in self.0 {
            map.serialize_entry(&leaf.name, &LeafJson(leaf))?;
        }
        map.end()
    }
}

#[cfg(feature = "serde")]
struct ValuesJson<'a>(&'a [(&'a String, &'a crate::value::Value)]);

#[cfg(feature = "serde")]
impl Serialize for ValuesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (*k, *v)))
    }
}

#[cfg(feature = "serde")]
struct LeafJson<'a>(&'a Leaf);

#[cfg(feature = "serde")]
impl Serialize for LeafJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Leaf", 2)?;
        s.serialize_field("dtype", &self.0.dtype)?;
        s.serialize_field("shape", self.0.shape.dims())?;
        if let Some(partition) = &self.0.partition {
            // Logical axis names, `null` for an axis not partitioned (only when present).
            s.serialize_field("partition", partition)?;
        }
        s.end()
    }
}

impl Summary {
    /// The table as GitHub-flavoured Markdown: one line per row (the compact style),
    /// numbers right-aligned, the totals as a last row, then the caption and notes.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_macs(true).run(|d| d.forward(&x))?;
    /// assert_eq!(
    ///     summary.to_markdown(),
    ///     "**Dense Summary**\n\n\
    ///      | path | module | inputs | outputs | macs | params |\n\
    ///      |:----|:------|:------|:-------|----:|------:|\n\
    ///      |  | Dense | float32[16,9] | float32[16,4] | 576 | 40 (160 B) |\n\
    ///      |  |  |  |  | **Total** | **40 (160 B)** |\n\n\
    ///      **Total Parameters: 40 (160 B)**\n\n\
    ///      \\* macs: multiply-accumulates of matmuls and convolutions only (torchvision's and \
    ///      ptflops' convention): no bias, every convolution tap counted on the padded input\n"
    /// );
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn to_markdown(&self) -> String {
        let columns = format::resolve_columns(self, None);
        let cells = format::cells(self, &columns, true, None);
        let numeric: Vec<bool> = columns
            .iter()
            .map(|c| matches!(c, Column::Metric(_) | Column::Collection(_)))
            .collect();
        let mut out = format!("**{} Summary**\n\n", markdown_escape(&self.module_type));
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        out.push_str(&line(
            cells.headers.iter().map(|h| markdown_escape(h)).collect(),
        ));
        let rule: Vec<String> = cells
            .headers
            .iter()
            .zip(&numeric)
            .map(|(h, &n)| {
                let dashes = "-".repeat(h.chars().count().max(3));
                if n {
                    format!("{dashes}:")
                } else {
                    format!(":{dashes}")
                }
            })
            .collect();
        out.push('|');
        out.push_str(&rule.join("|"));
        out.push_str("|\n");
        for row in 0..cells.rows.len() {
            out.push_str(&line(
                cells
                    .rows
                    .row(row)
                    .map(|c| markdown_escape(c.as_str()))
                    .collect(),
            ));
        }
        let footers = cells
            .footers
            .iter()
            .map(|c| {
                let text = markdown_escape(c.as_str());
                if text.is_empty() {
                    text
                } else {
                    format!("**{text}**")
                }
            })
            .collect();
        out.push_str(&line(footers));
        out.push('\n');
        let mut caption = format!(
            "Total Parameters: {}",
            format::size_text(self.total()).text()
        );
        if let Some(split) = &self.trainable {
            let _ = write!(
                caption,
                "  \nTrainable Parameters: {}  \nNon-trainable Parameters: {}",
                size_or_zero(split.trainable),
                size_or_zero(split.non_trainable)
            );
        }
        let _ = writeln!(out, "**{}**", caption.trim_end());
        if let Some(memory) = &self.memory {
            let _ = writeln!(
                out,
                "\nEstimated training-step memory ({}): {}",
                memory.optimizer.name(),
                format::bytes_text(memory.total)
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                let _ = writeln!(out, "\\* {}", markdown_escape(note));
            }
        }
        out
    }

    /// The rows as CSV (RFC 4180: comma-separated, fields with `,`, `"` or a line break
    /// quoted, quotes doubled, CRLF line ends), for spreadsheets and dataframes. Columns:
    /// `path` (joined by `/`), `module_type`, `method`, `inputs`, `outputs` (one line
    /// each), one per computed column (a number: bytes in bytes, breakdowns as
    /// `name=flops` joined by `;`), then `{collection}_count` and `{collection}_bytes`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_flops(true).run(|d| d.forward(&x))?;
    /// assert_eq!(
    ///     summary.to_csv(),
    ///     "path,module_type,method,inputs,outputs,flops,params_count,params_bytes\r\n\
    ///      ,Dense,forward,\"float32[16,9]\",\"float32[16,4]\",1216,40,160\r\n"
    /// );
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn to_csv(&self) -> String {
        let mut header: Vec<String> = ["path", "module_type", "method", "inputs", "outputs"]
            .map(String::from)
            .to_vec();
        header.extend(self.metrics.iter().map(|m| m.header().to_string()));
        for c in &self.collections {
            header.push(format!("{c}_count"));
            header.push(format!("{c}_bytes"));
        }
        let mut out = csv_record(&header);
        for row in &self.rows {
            let mut fields = vec![
                row.path.join("/"),
                row.module_type.clone(),
                row.method.clone(),
                format::flow_text(&row.inputs).text(),
                format::flow_text(&row.outputs).text(),
            ];
            fields.extend(self.metrics.iter().map(|&m| csv_metric(row.metric(m))));
            for vars in &row.variables {
                fields.push(vars.counted.count.to_string());
                fields.push(vars.counted.bytes.to_string());
            }
            out.push_str(&csv_record(&fields));
        }
        out
    }
}

fn size_or_zero(size: super::Size) -> String {
    if size.count == 0 {
        "0".into()
    } else {
        format::size_text(size).text()
    }
}

/// Escapes what would break a Markdown table cell or start markup.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\n' => out.push_str("<br>"),
            _ => out.push(c),
        }
    }
    out
}

fn csv_metric(value: Option<&MetricValue>) -> String {
    match value {
        None => String::new(),
        Some(
            MetricValue::Count(n) | MetricValue::Bytes(n) | MetricValue::Params { count: n, .. },
        ) => n.to_string(),
        Some(MetricValue::BytesByDtype(by)) => by.values().sum::<u64>().to_string(),
        Some(MetricValue::ByOperator(by)) => by
            .iter()
            .map(|(name, c)| format!("{name}={}", c.flops))
            .collect::<Vec<_>>()
            .join(";"),
    }
}

/// One CSV record with its CRLF.
fn csv_record(fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    format!("{}\r\n", quoted.join(","))
}

/// RFC 4180 §2.6–2.7: quote a field holding a comma, quote or line break; double quotes.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}
