//! The text of every cell, with its styles, exactly as Flax writes it: value trees in
//! `PyYAML`'s block style with dimmed dtypes, `{:,}` counts, decimal byte units.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::render::Column;
use super::{AddrMap, RowVariables, Size, Summary};
use crate::cost::MetricValue;
use crate::path::ModulePath;
use crate::value::Value;

/// Text attributes rich uses in the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Style(u8);

impl Style {
    pub(crate) const NONE: Style = Style(0);
    pub(crate) const BOLD: Style = Style(1);
    pub(crate) const DIM: Style = Style(2);
    pub(crate) const ITALIC: Style = Style(4);

    pub(crate) fn with(self, other: Style) -> Style {
        Style(self.0 | other.0)
    }

    /// The SGR codes, in rich's order (`1;2`).
    pub(crate) fn sgr(self) -> Option<&'static str> {
        const CODES: [&str; 8] = ["", "1", "2", "1;2", "3", "1;3", "2;3", "1;2;3"];
        Some(CODES[usize::from(self.0 & 7)]).filter(|c| !c.is_empty())
    }
}

/// Text made of runs, each with a style; lines are separated by `\n` inside runs. The
/// runs share one buffer (each is a range of it), so a cell costs two allocations however
/// many runs it has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StyledText {
    text: String,
    /// Each run's end in `text` and its style, in order; no run is empty.
    ends: Vec<(usize, Style)>,
    /// Runs before this index are closed: text written now never merges into them (the
    /// cells of a [`Body`] share one text).
    floor: usize,
}

/// Styled text borrowed from a [`StyledText`] or from one cell of a [`Body`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct StyledStr<'a> {
    text: &'a str,
    /// Where the first run starts in `text`.
    base: usize,
    ends: &'a [(usize, Style)],
}

impl<'a> StyledStr<'a> {
    /// The runs: each text with its style.
    pub(crate) fn runs(self) -> impl Iterator<Item = (&'a str, Style)> + Clone {
        let text = self.text;
        let mut start = self.base;
        self.ends.iter().map(move |&(end, style)| {
            let run = &text[start..end];
            start = end;
            (run, style)
        })
    }

    /// The text without styles.
    pub(crate) fn as_str(self) -> &'a str {
        let end = self.ends.last().map_or(self.base, |&(end, _)| end);
        &self.text[self.base..end]
    }
}

impl StyledText {
    pub(crate) fn plain(text: impl AsRef<str>) -> StyledText {
        StyledText::styled(text, Style::NONE)
    }

    pub(crate) fn styled(text: impl AsRef<str>, style: Style) -> StyledText {
        let mut t = StyledText::default();
        t.push(text, style);
        t
    }

    /// Appends `text` in `style`, merged into the last run when that has the same style.
    pub(crate) fn push(&mut self, text: impl AsRef<str>, style: Style) {
        let text = text.as_ref();
        if text.is_empty() {
            return;
        }
        self.reserve();
        self.text.push_str(text);
        self.close_run(style);
    }

    /// Appends formatted text in `style` (no intermediate `String`).
    pub(crate) fn push_fmt(&mut self, args: std::fmt::Arguments<'_>, style: Style) {
        self.reserve();
        let start = self.text.len();
        let _ = self.text.write_fmt(args);
        if self.text.len() > start {
            self.close_run(style);
        }
    }

    /// Appends `n` in decimal, in `style`.
    pub(crate) fn push_uint(&mut self, n: u64, style: Style) {
        self.reserve();
        push_uint(&mut self.text, n);
        self.close_run(style);
    }

    /// Room for a typical cell at the first write, so that a cell's text grows at most
    /// once or twice.
    fn reserve(&mut self) {
        if self.text.capacity() == 0 {
            self.text.reserve(48);
            self.ends.reserve(4);
        }
    }

    /// Ends the run that the text written since the last run's end forms (merging it into
    /// the last run when that has the same style).
    fn close_run(&mut self, style: Style) {
        let end = self.text.len();
        let open = self.ends.len() > self.floor;
        match self.ends.last_mut() {
            Some((last, s)) if open && *s == style => *last = end,
            _ => self.ends.push((end, style)),
        }
    }

    pub(crate) fn append(&mut self, other: &StyledText) {
        for (text, style) in other.runs() {
            self.push(text, style);
        }
    }

    /// The runs: each text with its style.
    pub(crate) fn runs(&self) -> impl Iterator<Item = (&str, Style)> + Clone {
        self.borrow().runs()
    }

    /// This text, borrowed.
    pub(crate) fn borrow(&self) -> StyledStr<'_> {
        StyledStr {
            text: &self.text,
            base: 0,
            ends: &self.ends,
        }
    }

    /// The text without styles.
    pub(crate) fn text(&self) -> String {
        self.text.clone()
    }

    /// The text without styles, borrowed.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// Appends `n` in decimal.
pub(crate) fn push_uint(out: &mut String, n: u64) {
    if n < 10 {
        // One digit: most dimensions.
        #[allow(clippy::cast_possible_truncation)]
        out.push(char::from(b'0' + n as u8));
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        // A decimal digit.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        digits[i] = b'0' + digit;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits.
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or_default());
}

/// The body cells of a table, row by row, written into one text: a cell costs no
/// allocation of its own.
pub(crate) struct Body {
    arena: StyledText,
    /// Per cell, row-major: where its text and its runs start in `arena`.
    starts: Vec<(usize, usize)>,
    columns: usize,
    rows: usize,
}

impl Body {
    fn new(rows: usize, columns: usize) -> Body {
        let cells = rows * columns;
        let mut arena = StyledText::default();
        arena.text.reserve(cells * 24);
        arena.ends.reserve(cells * 2);
        Body {
            arena,
            starts: Vec::with_capacity(cells),
            columns,
            rows,
        }
    }

    /// Starts the next cell and returns the text to write it into.
    fn begin_cell(&mut self) -> &mut StyledText {
        self.arena.floor = self.arena.ends.len();
        self.starts
            .push((self.arena.text.len(), self.arena.ends.len()));
        &mut self.arena
    }

    /// How many rows.
    pub(crate) fn len(&self) -> usize {
        self.rows
    }

    /// The cell of `row` in `column`.
    pub(crate) fn cell(&self, row: usize, column: usize) -> StyledStr<'_> {
        let i = row * self.columns + column;
        let (text, first) = self.starts[i];
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.arena.ends.len(), |&(_, next)| next);
        StyledStr {
            text: &self.arena.text,
            base: text,
            ends: &self.arena.ends[first..end],
        }
    }

    /// The cells of `row`, in column order.
    pub(crate) fn row(&self, row: usize) -> impl Iterator<Item = StyledStr<'_>> {
        (0..self.columns).map(move |c| self.cell(row, c))
    }
}

/// Every cell of a summary: header, body rows and footer.
pub(crate) struct Cells {
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Body,
    pub(crate) footers: Vec<StyledText>,
    /// The column whose footer is `Total`, right-justified.
    pub(crate) total_column: usize,
}

/// The columns of the table in order, with every collection named.
pub(crate) fn resolve_columns(summary: &Summary, chosen: Option<&[Column]>) -> Vec<Column> {
    let default;
    let chosen = if let Some(chosen) = chosen {
        chosen
    } else {
        default = [
            Column::Path,
            Column::Module,
            Column::Inputs,
            Column::Outputs,
            Column::Metrics,
            Column::Collections,
        ];
        &default
    };
    let mut columns = Vec::new();
    for column in chosen {
        match column {
            Column::Metrics => columns.extend(summary.metrics.iter().map(|&m| Column::Metric(m))),
            Column::Collections => columns.extend(
                summary
                    .collections
                    .iter()
                    .map(|c| Column::Collection(c.clone())),
            ),
            Column::Metric(m) if !summary.shows(*m) => {}
            Column::Collection(c) if !summary.collections.contains(c) => {}
            other => columns.push(other.clone()),
        }
    }
    columns
}

/// The cells of `columns` ([`resolve_columns`]); `compact` writes every cell on one line;
/// `cap` bounds the path cells' text when the table's width is bounded (see
/// [`PathTexts`]).
pub(crate) fn cells(
    summary: &Summary,
    columns: &[Column],
    compact: bool,
    cap: Option<usize>,
) -> Cells {
    let collection_index = |name: &str| summary.collections.iter().position(|c| c == name);
    let headers = columns
        .iter()
        .map(|column| match column {
            Column::Path => "path".to_string(),
            Column::Module => "module".to_string(),
            Column::Inputs => "inputs".to_string(),
            Column::Outputs => "outputs".to_string(),
            Column::Metric(m) => m.header().to_string(),
            Column::Collection(c) => c.clone(),
            Column::Metrics | Column::Collections => String::new(),
        })
        .collect::<Vec<_>>();
    let mut paths = PathTexts {
        cap,
        known: AddrMap::default(),
    };
    let mut rows = Body::new(summary.rows.len(), columns.len());
    for row in &summary.rows {
        for column in columns {
            let out = rows.begin_cell();
            match column {
                Column::Path => out.push(paths.text(&row.path), Style::NONE),
                Column::Module => module_into(out, &row.module_type, &row.method),
                Column::Inputs if compact => flow_into(out, &row.inputs),
                Column::Inputs => value_into(out, &row.inputs),
                Column::Outputs if compact => flow_into(out, &row.outputs),
                Column::Outputs => value_into(out, &row.outputs),
                Column::Metric(m) => metric_into(out, row.metric(*m), compact),
                Column::Collection(c) => {
                    if let Some(vars) = collection_index(c).and_then(|i| row.variables.get(i)) {
                        if compact {
                            push_size(out, vars.counted, Style::BOLD);
                        } else {
                            variables_into(out, vars);
                        }
                    }
                }
                Column::Metrics | Column::Collections => {}
            }
        }
    }
    let first_collection = columns
        .iter()
        .position(|c| matches!(c, Column::Collection(_)))
        .unwrap_or(columns.len());
    let total_column = first_collection.saturating_sub(1);
    let footers = columns
        .iter()
        .enumerate()
        .map(|(i, column)| match column {
            Column::Collection(c) => collection_index(c)
                .and_then(|i| summary.totals.get(i))
                .map(|&size| size_text(size))
                .unwrap_or_default(),
            _ if i == total_column => StyledText::plain("Total"),
            _ => StyledText::default(),
        })
        .collect();
    Cells {
        headers,
        rows,
        footers,
        total_column,
    }
}

/// `s` with control characters (ANSI escapes included) and bidirectional overrides
/// written as escapes (`\x1b`, `\n`, `\u{202e}`), so that a name cannot move the cursor,
/// restyle the terminal or break the table's lines.
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    // Printable ASCII, the usual name, has none: checked byte by byte.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.contains(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) && u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The path cells' texts, each made from its parent's: a row's path costs its own name,
/// not its depth. With a `cap` (a bound on the table's width), a path without whitespace
/// is one word, shown cut to its column, so only its first `cap` characters are kept.
struct PathTexts {
    cap: Option<usize>,
    /// By path address: the escaped text (cut to `cap` + 1 characters when it has no
    /// whitespace) and whether it has whitespace.
    known: AddrMap<(String, bool)>,
}

impl PathTexts {
    fn text(&mut self, path: &ModulePath) -> &str {
        &self.entry(path).0
    }

    fn entry(&mut self, path: &ModulePath) -> &(String, bool) {
        if !self.known.contains_key(&path.addr()) {
            let value = match (path.parent(), path.name()) {
                (Some(parent), Some(name)) if self.cap.is_some() => {
                    // A chain of parents not seen yet is resolved outermost first, without
                    // recursion.
                    let mut missing = vec![];
                    let mut p = parent;
                    while !p.is_empty() && !self.known.contains_key(&p.addr()) {
                        missing.push(p.clone());
                        p = p.parent().unwrap_or(p);
                    }
                    for p in missing.into_iter().rev() {
                        let value = self.extend(p.parent(), p.name().unwrap_or(""));
                        self.known.insert(p.addr(), value);
                    }
                    self.extend(Some(parent), name)
                }
                _ => {
                    let text = escape(&path.join("/")).into_owned();
                    let spaced = has_whitespace(&text);
                    (text, spaced)
                }
            };
            self.known.insert(path.addr(), value);
        }
        &self.known[&path.addr()]
    }

    /// The entry of `parent/name`, from the parent's (known, or the root's).
    fn extend(&self, parent: Option<&ModulePath>, name: &str) -> (String, bool) {
        let (base, spaced) = match parent.filter(|p| !p.is_empty()) {
            Some(p) => self.known[&p.addr()].clone(),
            None => (String::new(), false),
        };
        let name = escape(name);
        let spaced = spaced || has_whitespace(&name);
        if spaced {
            // Whitespace breaks the path into words that wrap: keep all of it.
            let mut full: Vec<&str> = Vec::new();
            if let Some(p) = parent {
                full = p.segments();
            }
            full.push(name.as_ref());
            let text = full.iter().map(|n| escape(n)).collect::<Vec<_>>().join("/");
            return (text, true);
        }
        let mut text = base;
        if !text.is_empty() || parent.is_some_and(|p| !p.is_empty()) {
            text.push('/');
        }
        text.push_str(&name);
        if let Some(cap) = self.cap
            && text.len() > cap + 1
            && let Some((end, _)) = text.char_indices().nth(cap + 1)
        {
            // (A text of at most `cap + 1` bytes has at most as many characters.)
            text.truncate(end);
        }
        (text, false)
    }
}

/// Whether `text` has whitespace (checked byte by byte when it is ASCII).
fn has_whitespace(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_whitespace() || b == 0x0b)
    } else {
        text.contains(char::is_whitespace)
    }
}

/// `Dense`, or `ConvBlock (block_method)` with the method dimmed for methods other than
/// the main one (`forward`, Flax's `__call__`) and anonymous ones (a lifted `<lambda>`).
fn module_into(text: &mut StyledText, module_type: &str, method: &str) {
    text.push(escape(module_type), Style::NONE);
    if method != "forward" && method != "<lambda>" {
        text.push(" ", Style::NONE);
        text.push("(", Style::DIM);
        text.push(escape(method), Style::DIM);
        text.push(")", Style::DIM);
    }
}

/// Appends [`metric_text`].
fn metric_into(text: &mut StyledText, value: Option<&MetricValue>, compact: bool) {
    match value {
        Some(MetricValue::Count(count)) => text.push_uint(*count, Style::NONE),
        _ => text.append(&metric_text(value, compact)),
    }
}

/// A metric's cell: a count as a plain integer (Flax writes FLOP counts without
/// separators), bytes in Flax's units; `-1` where none was computed, as Flax writes a
/// missing cost. Breakdowns take a line per entry, or `; ` between entries in `compact`.
pub(crate) fn metric_text(value: Option<&MetricValue>, compact: bool) -> StyledText {
    let lines: Vec<String> = match value {
        Some(MetricValue::Count(count)) => {
            let mut text = StyledText::default();
            text.push_uint(*count, Style::NONE);
            return text;
        }
        Some(MetricValue::Bytes(bytes)) => vec![bytes_text(*bytes)],
        Some(MetricValue::BytesByDtype(by)) => match by.len() {
            0 => vec![bytes_text(0)],
            1 => by.values().map(|&b| bytes_text(b)).collect(),
            _ => by
                .iter()
                .map(|(dtype, &b)| format!("{}: {}", dtype.name(), bytes_text(b)))
                .collect(),
        },
        Some(MetricValue::Params { count, bytes }) => {
            vec![format!("{} ({})", grouped(*count), bytes_text(*bytes))]
        }
        Some(MetricValue::ByOperator(by)) => by
            .iter()
            .map(|(name, c)| {
                if c.macs > 0 {
                    format!("{name}: {} ({} MACs)", c.flops, c.macs)
                } else {
                    format!("{name}: {}", c.flops)
                }
            })
            .collect(),
        None => vec![String::from("-1")],
    };
    StyledText::plain(lines.join(if compact { "; " } else { "\n" }))
}

/// The cells of the per-operator table: primitive, applications, flops, MACs, a total.
pub(crate) fn operator_cells(
    operators: &std::collections::BTreeMap<String, crate::cost::OperatorCount>,
) -> Cells {
    let headers = ["primitive", "calls", "flops", "macs"]
        .map(String::from)
        .to_vec();
    let mut rows = Body::new(operators.len(), headers.len());
    for (name, c) in operators {
        rows.begin_cell().push(name, Style::NONE);
        for n in [c.calls, c.flops, c.macs] {
            rows.begin_cell().push_uint(n, Style::NONE);
        }
    }
    let sum =
        |f: fn(&crate::cost::OperatorCount) -> u64| -> u64 { operators.values().map(f).sum() };
    let footers = vec![
        StyledText::plain("Total"),
        StyledText::plain(sum(|c| c.calls).to_string()),
        StyledText::plain(sum(|c| c.flops).to_string()),
        StyledText::plain(sum(|c| c.macs).to_string()),
    ];
    Cells {
        headers,
        rows,
        footers,
        total_column: 0,
    }
}

/// A value tree on one line: `float32[16,9]`, `[float32[2], True]`, `{a: float32[2]}`.
pub(crate) fn flow_text(value: &Value) -> StyledText {
    let mut text = StyledText::default();
    flow_into(&mut text, value);
    text
}

/// [`flow_text`], appended to `out`.
fn flow_into(out: &mut StyledText, value: &Value) {
    match value {
        Value::Sequence { items } if items.is_empty() => {}
        Value::Mapping { entries } if entries.is_empty() => {}
        Value::Sequence { items } => {
            out.push("[", Style::NONE);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(", ", Style::NONE);
                }
                flow_into(out, item);
            }
            out.push("]", Style::NONE);
        }
        Value::Mapping { entries } => {
            out.push("{", Style::NONE);
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(", ", Style::NONE);
                }
                out.push(escape(key), Style::NONE);
                out.push(": ", Style::NONE);
                flow_into(out, item);
            }
            out.push("}", Style::NONE);
        }
        leaf => scalar_into(out, leaf),
    }
}

/// The row's own variables as YAML, a blank line, then the bold count. Arrays and sown
/// trees are one mapping, by name; a partitioned array reads `float32[5,16] P(embed, mlp)`.
fn variables_into(text: &mut StyledText, vars: &RowVariables) {
    /// One entry of the mapping: an array, or a sown tuple.
    enum Entry<'v> {
        Leaf(&'v super::Leaf),
        Sown(&'v Value),
    }
    if !vars.own.is_empty() || !vars.values.is_empty() {
        let mut entries: Vec<(&str, Entry<'_>)> = vars
            .own
            .iter()
            .map(|leaf| (leaf.name.as_str(), Entry::Leaf(leaf)))
            .chain(
                vars.values
                    .iter()
                    .map(|(name, value)| (name.as_str(), Entry::Sown(value))),
            )
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let mut lines = Lines::new(text);
        for (name, entry) in entries {
            match entry {
                Entry::Leaf(leaf) => {
                    lines.start_line();
                    lines.out.push(escape(name), Style::NONE);
                    lines.out.push(": ", Style::NONE);
                    push_array(lines.out, leaf.dtype, &leaf.shape);
                    if let Some(names) = &leaf.partition {
                        lines.out.push(" ", Style::NONE);
                        lines.out.push("P", Style::DIM);
                        lines.out.push(partition_text(names), Style::NONE);
                    }
                }
                Entry::Sown(value) => lines.entry(name, value),
            }
        }
        text.push("\n\n", Style::NONE);
    }
    push_size(text, vars.counted, Style::BOLD);
}

/// Logical axis names as Flax's `Partitioned.names` tuple reads in the table (Python's
/// `repr` of the tuple, its quotes removed): `(None, data)`, `(embed,)`, `()`.
fn partition_text(names: &[Option<String>]) -> String {
    let items: Vec<Cow<'_, str>> = names
        .iter()
        .map(|n| n.as_deref().map_or(Cow::Borrowed("None"), escape))
        .collect();
    match items.as_slice() {
        [one] => format!("({one},)"),
        _ => format!("({})", items.join(", ")),
    }
}

/// Appends `float32[16,9]` with the dtype dimmed.
fn push_array(text: &mut StyledText, dtype: crate::dtype::DType, shape: &crate::shape::Shape) {
    text.push(dtype.name(), Style::DIM);
    text.text.reserve(2 + 4 * shape.rank());
    // `[16,9]`, as `Shape`'s `Display`.
    text.text.push('[');
    for (i, &d) in shape.dims().iter().enumerate() {
        if i > 0 {
            text.text.push(',');
        }
        push_uint(&mut text.text, d as u64);
    }
    text.text.push(']');
    text.close_run(Style::NONE);
}

/// `40 (160 B)` with the bytes dimmed; empty for a count of zero.
pub(crate) fn size_text(size: Size) -> StyledText {
    let mut text = StyledText::default();
    push_size(&mut text, size, Style::NONE);
    text
}

/// Appends [`size_text`] with `style` on top of its own.
fn push_size(text: &mut StyledText, size: Size, style: Style) {
    if size.count == 0 {
        return;
    }
    push_grouped(&mut text.text, size.count);
    text.text.push(' ');
    text.close_run(style);
    text.text.push('(');
    push_bytes(&mut text.text, size.bytes);
    text.text.push(')');
    text.close_run(Style::DIM.with(style));
}

/// `1,234,567`.
pub(crate) fn grouped(n: u64) -> String {
    let mut out = String::new();
    push_grouped(&mut out, n);
    out
}

/// Appends `n` with thousands separated by commas (`1,234,567`).
fn push_grouped(out: &mut String, n: u64) {
    let start = out.len();
    push_uint(out, n);
    let digits = out.len() - start;
    if digits <= 3 {
        return;
    }
    let mut grouped = [0u8; 27];
    let mut len = 0;
    for (i, &d) in out.as_bytes()[start..].iter().enumerate() {
        if i > 0 && (digits - i).is_multiple_of(3) {
            grouped[len] = b',';
            len += 1;
        }
        grouped[len] = d;
        len += 1;
    }
    out.truncate(start);
    // ASCII digits and commas.
    out.push_str(std::str::from_utf8(&grouped[..len]).unwrap_or_default());
}

/// Flax's `_bytes_repr`: decimal units, strict thresholds, one decimal.
pub(crate) fn bytes_text(bytes: u64) -> String {
    let mut out = String::new();
    push_bytes(&mut out, bytes);
    out
}

/// Appends [`bytes_text`].
fn push_bytes(out: &mut String, bytes: u64) {
    let b = bytes as f64;
    let (value, unit) = if b > 1e9 {
        (b / 1e9, "GB")
    } else if b > 1e6 {
        (b / 1e6, "MB")
    } else if b > 1e3 {
        (b / 1e3, "KB")
    } else {
        push_grouped(out, bytes);
        out.push_str(" B");
        return;
    };
    // `{value:.1}`, its whole part grouped.
    let start = out.len();
    let _ = write!(out, "{value:.1}");
    let (whole, fraction) = out[start..].split_once('.').unwrap_or((&out[start..], "0"));
    let whole: u64 = whole.parse().unwrap_or(0);
    let mut tenth = [0u8; 8];
    let fraction_len = fraction.len().min(tenth.len());
    tenth[..fraction_len].copy_from_slice(&fraction.as_bytes()[..fraction_len]);
    out.truncate(start);
    push_grouped(out, whole);
    out.push('.');
    for &d in &tenth[..fraction_len] {
        out.push(char::from(d));
    }
    out.push(' ');
    out.push_str(unit);
}

/// A value tree as Flax renders it: `PyYAML` block style, dtypes dimmed, empty containers
/// as an empty cell.
#[cfg(test)]
pub(crate) fn value_text(value: &Value) -> StyledText {
    let mut text = StyledText::default();
    value_into(&mut text, value);
    text
}

/// Appends a value tree as Flax renders it: `PyYAML` block style, dtypes dimmed, empty
/// containers as nothing.
fn value_into(text: &mut StyledText, value: &Value) {
    match value {
        Value::Sequence { items } if items.is_empty() => {}
        Value::Mapping { entries } if entries.is_empty() => {}
        Value::Sequence { .. } | Value::Mapping { .. } => Lines::new(text).block(value),
        leaf => scalar_into(text, leaf),
    }
}

/// Appends a leaf: `float32[16,9]` with the dtype dimmed, or an object's repr.
fn scalar_into(text: &mut StyledText, value: &Value) {
    match value {
        Value::Array { dtype, shape, .. } => push_array(text, *dtype, shape),
        Value::Key { shape } => {
            text.push("key<fry>", Style::DIM);
            text.push_fmt(format_args!("{shape}"), Style::NONE);
        }
        Value::Object { repr } => text.push(escape(object_text(repr)), Style::NONE),
        Value::Sequence { .. } => text.push("[]", Style::NONE),
        Value::Mapping { .. } => text.push("{}", Style::NONE),
    }
}

/// `PyYAML` single-quotes a Python `repr` like `'relu'` and Flax deletes every single quote;
/// we drop the quotes the same way but keep apostrophes inside the text.
fn object_text(repr: &str) -> &str {
    repr.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(repr)
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Sequence { items } => items.is_empty(),
        Value::Mapping { entries } => entries.is_empty(),
        _ => false,
    }
}

/// Lines of `PyYAML`'s block style written into one text: each line starts with the
/// prefixes of the containers it is in, outermost first (`- ` on an item's first line,
/// `  ` on its others; a mapping's indent).
struct Lines<'o> {
    out: &'o mut StyledText,
    /// Per open container: its first-line prefix, its other lines' prefix, and whether
    /// its first line is written.
    levels: Vec<(&'static str, &'static str, bool)>,
    /// Whether a line was written (the next one starts after a newline).
    started: bool,
}

impl<'o> Lines<'o> {
    fn new(out: &'o mut StyledText) -> Self {
        Lines {
            out,
            levels: Vec::new(),
            started: false,
        }
    }

    /// Starts a line: a newline after the previous one, then the prefixes.
    fn start_line(&mut self) {
        if self.started {
            self.out.push("\n", Style::NONE);
        }
        self.started = true;
        for (first, rest, begun) in &mut self.levels {
            self.out
                .push(if *begun { *rest } else { *first }, Style::NONE);
            *begun = true;
        }
    }

    /// The lines of `value` inside a container whose lines start with `first` (its first)
    /// and `rest` (the others).
    fn nested(&mut self, first: &'static str, rest: &'static str, value: &Value) {
        self.levels.push((first, rest, false));
        self.block(value);
        self.levels.pop();
    }

    /// The lines of a non-empty sequence or mapping in `PyYAML`'s block style: sequences
    /// inside mappings are not indented, mappings inside mappings are indented by two, and
    /// a container inside a sequence starts on the `- ` line.
    fn block(&mut self, value: &Value) {
        match value {
            Value::Sequence { items } => {
                for item in items {
                    if is_empty_container(item)
                        || !matches!(item, Value::Sequence { .. } | Value::Mapping { .. })
                    {
                        self.start_line();
                        self.out.push("- ", Style::NONE);
                        scalar_into(self.out, item);
                    } else {
                        self.nested("- ", "  ", item);
                    }
                }
            }
            Value::Mapping { entries } => {
                for (key, item) in entries {
                    self.entry(key, item);
                }
            }
            leaf => {
                self.start_line();
                scalar_into(self.out, leaf);
            }
        }
    }

    /// One `key: value` entry of a mapping.
    fn entry(&mut self, key: &str, item: &Value) {
        self.start_line();
        self.out.push(escape(key), Style::NONE);
        match item {
            Value::Sequence { .. } | Value::Mapping { .. } if !is_empty_container(item) => {
                self.out.push(":", Style::NONE);
                let indent = if matches!(item, Value::Mapping { .. }) {
                    "  "
                } else {
                    ""
                };
                self.nested(indent, indent, item);
            }
            _ => {
                self.out.push(": ", Style::NONE);
                scalar_into(self.out, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::shape::Shape;

    fn array(dims: &[usize]) -> Value {
        Value::Array {
            dtype: DType::F32,
            shape: Shape::new(dims.to_vec()),
        }
    }

    fn text(value: &Value) -> String {
        value_text(value).text()
    }

    #[test]
    fn bytes_follow_flax() {
        let cases = [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1,000 B"),
            (1001, "1.0 KB"),
            (1049, "1.0 KB"),
            (1050, "1.1 KB"),
            (1250, "1.2 KB"),
            (1750, "1.8 KB"),
            (2250, "2.2 KB"),
            (999_999, "1,000.0 KB"),
            (1_000_000, "1,000.0 KB"),
            (1_000_001, "1.0 MB"),
            (999_950_001, "1,000.0 MB"),
            (1_000_000_000, "1,000.0 MB"),
            (1_000_000_001, "1.0 GB"),
            (1_500_000_000_000, "1,500.0 GB"),
            (1 << 40, "1,099.5 GB"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(bytes_text(bytes), expected, "{bytes}");
        }
        assert_eq!(grouped(19_658), "19,658");
        assert_eq!(grouped(100), "100");
    }

    #[test]
    fn values_render_as_pyyaml_blocks() {
        let x = array(&[2, 3]);
        assert_eq!(text(&x), "float32[2,3]");
        assert_eq!(text(&Value::sequence([])), "");
        assert_eq!(text(&Value::none()), "None");
        assert_eq!(
            text(&Value::sequence([Value::object("3"), Value::object("4.5")])),
            "- 3\n- 4.5"
        );
        let nested = Value::mapping([
            ("a", x.clone()),
            (
                "b",
                Value::sequence([x.clone(), Value::sequence([x.clone(), Value::object("2")])]),
            ),
        ]);
        assert_eq!(
            text(&nested),
            "a: float32[2,3]\nb:\n- float32[2,3]\n- - float32[2,3]\n  - 2"
        );
        let kwargs = Value::sequence([
            array(&[1]),
            Value::mapping([
                ("zz", Value::object("1")),
                ("aa", Value::object("2")),
                (
                    "mm",
                    Value::mapping([("q", Value::object("1")), ("b", Value::object("2"))]),
                ),
            ]),
        ]);
        assert_eq!(
            text(&kwargs),
            "- float32[1]\n- aa: 2\n  mm:\n    b: 2\n    q: 1\n  zz: 1"
        );
        assert_eq!(
            text(&Value::mapping([
                ("k", x),
                ("z", Value::mapping([("w", Value::object("'str'"))]))
            ])),
            "k: float32[2,3]\nz:\n  w: str"
        );
        assert_eq!(
            text(&Value::sequence([
                Value::sequence([]),
                Value::mapping(Vec::<(String, Value)>::new())
            ])),
            "- []\n- {}"
        );
        assert_eq!(text(&Value::object("\"it's\"")), "\"it's\"");
    }

    #[test]
    fn dtypes_are_dimmed() {
        let t = value_text(&array(&[16, 9]));
        assert_eq!(
            t.runs().collect::<Vec<_>>(),
            vec![("float32", Style::DIM), ("[16,9]", Style::NONE)]
        );
    }
}
