//! The table as text, laid out exactly as Flax's rich table: rich's column measuring,
//! shrinking (`_collapse_widths`, `ratio_reduce`), word wrapping and `…` truncation, its
//! styles and its `HEAVY_HEAD` box. Text is measured in terminal cells (`unicode-width`:
//! CJK and emoji take two), so wide characters line up.

use std::io::IsTerminal;
use std::ops::Range;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Summary;
use super::format::{self, Cells, Style, StyledStr, StyledText};
use crate::cost::Metric;

/// When to colour the table.
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{ColorChoice, RenderOptions};
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
/// let coloured = summary.render(&RenderOptions::new().color(ColorChoice::Always));
/// let plain = summary.render(&RenderOptions::new().color(ColorChoice::Never));
/// assert!(coloured.contains("\x1b[") && !plain.contains("\x1b["));
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// As the environment says, first rule that applies wins: `NO_COLOR` set and not
    /// empty → never; `FORCE_COLOR` set and not empty, or `CLICOLOR_FORCE` set and not
    /// `0` → always; `TERM=dumb` → never; else when standard output is a terminal.
    #[default]
    Auto,
    /// Always (Flax's default, `force_terminal=True`).
    Always,
    /// Never.
    Never,
}

/// A column of the table, for choosing which are drawn and in what order
/// ([`RenderOptions::columns`]), as torchinfo's `col_names`.
///
/// ```
/// use tabulate::{Column, Metric, RenderOptions};
///
/// let options = RenderOptions::new()
///     .columns([Column::Path, Column::Outputs, Column::Metric(Metric::Macs), Column::Collections])
///     .compact(true);
/// # let _ = options;
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// The module's path.
    Path,
    /// The module's type (and method, when not `forward`).
    Module,
    /// The call's arguments.
    Inputs,
    /// The call's result.
    Outputs,
    /// One computed column; left out when the summary did not compute it.
    Metric(Metric),
    /// Every computed column, in the summary's order.
    Metrics,
    /// One variable collection (`params`); left out when the model has none.
    Collection(String),
    /// Every variable collection, in the summary's order.
    Collections,
}

/// How to render a [`Summary`].
///
/// ```
/// use tabulate::prelude::*;
/// use tabulate::{Column, RenderOptions};
/// use tabulate::nn::Dense;
///
/// let x = Tensor::new(DType::F32, [16, 9]);
/// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
/// let options = RenderOptions::new()
///     .width(80)
///     .compact(true)
///     .columns([Column::Path, Column::Module, Column::Outputs, Column::Collections]);
/// let text = summary.render(&options);
/// assert!(text.contains("float32[16,4]") && !text.contains("float32[16,9]")); // no inputs
/// # Ok::<(), tabulate::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    width: Option<usize>,
    color: ColorChoice,
    detect_width: bool,
    columns: Option<Vec<Column>>,
    compact: bool,
}

impl RenderOptions {
    /// Plain text at the table's natural width.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::RenderOptions;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// // Plain and at natural width, whatever the terminal: stable output for tests and files.
    /// let text = summary.render(&RenderOptions::new());
    /// assert!(text.contains("│ Dense  │ float32[16,9] │ float32[16,4] │"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn new() -> RenderOptions {
        RenderOptions {
            width: None,
            color: ColorChoice::Never,
            detect_width: false,
            columns: None,
            compact: false,
        }
    }

    /// What `Display` uses: colour on a terminal (never with `NO_COLOR`); the width of
    /// `COLUMNS` if set, else of the terminal, else as wide as the table needs.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::RenderOptions;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// // What `Display` does, reading NO_COLOR, FORCE_COLOR, COLUMNS and the terminal.
    /// assert_eq!(summary.render(&RenderOptions::auto()), summary.to_string());
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    pub fn auto() -> RenderOptions {
        RenderOptions {
            width: None,
            color: ColorChoice::Auto,
            detect_width: true,
            columns: None,
            compact: false,
        }
    }

    /// Fits the table in `width` columns, wrapping and truncating cells like rich.
    ///
    /// A table cannot be narrower than one character per column with its padding and
    /// borders (`4 × columns + 1`: 21 for the five columns of a table without FLOPs);
    /// below that it is drawn at that minimum, every cell cut to `…` or one character.
    /// The title and caption are centred on the table and not cut.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::RenderOptions;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// let narrow = summary.render(&RenderOptions::new().width(40));
    /// assert!(narrow.lines().all(|line| line.chars().count() <= 40));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn width(mut self, width: usize) -> RenderOptions {
        self.width = Some(width);
        self
    }

    /// Chooses when to colour.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{ColorChoice, RenderOptions};
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// let coloured = summary.render(&RenderOptions::new().color(ColorChoice::Always));
    /// let plain = summary.render(&RenderOptions::new().color(ColorChoice::Never));
    /// assert!(coloured.contains("\x1b[") && !plain.contains('\x1b'));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn color(mut self, color: ColorChoice) -> RenderOptions {
        self.color = color;
        self
    }

    /// Draws only `columns`, in this order. Default: path, module, inputs, outputs, the
    /// computed columns, the collections (Flax's table).
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::{Column, Metric, RenderOptions};
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).compute_flops(true).compute_macs(true).run(|d| d.forward(&x))?;
    /// let text = summary.render(&RenderOptions::new().columns([Column::Module, Column::Metric(Metric::Macs)]));
    /// let header = text.lines().find(|line| line.contains("module")).expect("a header");
    /// assert!(header.contains("macs") && !header.contains("flops") && !header.contains("params"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn columns(mut self, columns: impl IntoIterator<Item = Column>) -> RenderOptions {
        self.columns = Some(columns.into_iter().collect());
        self
    }

    /// One line per row: inputs and outputs inline (`[float32[2], True]`), variable
    /// cells without their YAML list of arrays (the count and bytes only), breakdowns
    /// separated by `; `. For models with thousands of rows. Default: `false`.
    ///
    /// ```
    /// use tabulate::prelude::*;
    /// use tabulate::RenderOptions;
    /// use tabulate::nn::Dense;
    ///
    /// let x = Tensor::new(DType::F32, [16, 9]);
    /// let summary = tabulate(&Dense::new(4)).run(|d| d.forward(&x))?;
    /// let compact = summary.render(&RenderOptions::new().compact(true));
    /// assert!(compact.contains("40 (160 B)") && !compact.contains("kernel: float32[9,4]"));
    /// # Ok::<(), tabulate::Error>(())
    /// ```
    #[must_use]
    pub fn compact(mut self, compact: bool) -> RenderOptions {
        self.compact = compact;
        self
    }

    /// The width and colour to use, given what the environment says.
    fn resolve(&self, env: &Environment) -> (Option<usize>, bool) {
        let width = self.width.or_else(|| {
            if !self.detect_width {
                return None;
            }
            // As in rich, COLUMNS counts as given; a terminal's width comes next.
            let columns = env.columns.as_deref().and_then(|c| c.trim().parse().ok());
            columns.or(env.terminal_width.filter(|_| env.is_terminal))
        });
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => env.wants_color(),
        };
        (width, color)
    }
}

/// What decides automatic width and colour: environment variables and standard output.
#[derive(Debug, Default)]
struct Environment {
    columns: Option<String>,
    no_color: Option<String>,
    force_color: Option<String>,
    clicolor_force: Option<String>,
    term: Option<String>,
    is_terminal: bool,
    terminal_width: Option<usize>,
}

impl Environment {
    fn current() -> Environment {
        let is_terminal = std::io::stdout().is_terminal();
        let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
        Environment {
            columns: std::env::var("COLUMNS").ok(),
            no_color: var("NO_COLOR"),
            force_color: var("FORCE_COLOR"),
            clicolor_force: var("CLICOLOR_FORCE"),
            term: var("TERM"),
            is_terminal,
            terminal_width: is_terminal
                .then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
                .flatten(),
        }
    }
}

impl Environment {
    /// Whether automatic colour is on (see [`ColorChoice::Auto`] for the precedence).
    fn wants_color(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        // https://no-color.org: set and not empty disables colour, whatever else is set.
        if set(&self.no_color) {
            return false;
        }
        // https://force-color.org and https://bixense.com/clicolors/.
        if set(&self.force_color)
            || self
                .clicolor_force
                .as_deref()
                .is_some_and(|v| !v.is_empty() && v != "0")
        {
            return true;
        }
        self.is_terminal && self.term.as_deref() != Some("dumb")
    }
}

/// The whole text: a blank line, the title, the table, the caption, a blank line.
pub(crate) fn render(summary: &Summary, options: &RenderOptions) -> String {
    let (width, color) = options.resolve(&Environment::current());
    let columns = format::resolve_columns(summary, options.columns.as_deref());
    let cells = format::cells(summary, &columns, options.compact, width);
    let widths = column_widths(&cells, width);
    let table_width = widths.iter().sum::<usize>() + widths.len() + 1;

    let mut out = String::from("\n");
    let title = StyledText::plain(format!("{} Summary", format::escape(&summary.module_type)));
    out.push_str(&paint(&center(&title, table_width), Style::ITALIC, color));
    out.push('\n');
    draw_box(&mut out, &cells, &widths, color);
    out.push('\n');
    // Flax's caption, byte for byte (an empty count when there are no parameters).
    let mut total = StyledText::plain("Total Parameters: ");
    total.append(&format::size_text(summary.total()));
    let mut caption = vec![StyledText::default(), total];
    if let Some(split) = &summary.trainable {
        caption.push(size_line("Trainable Parameters: ", split.trainable));
        caption.push(size_line("Non-trainable Parameters: ", split.non_trainable));
    }
    if let Some(memory) = &summary.memory {
        caption.extend(memory_lines(memory));
    }
    for line in caption {
        out.push_str(&paint(&center(&line, table_width), Style::BOLD, color));
        out.push('\n');
    }
    out.push('\n');
    if let Some(operators) = &summary.operators {
        let cells = format::operator_cells(operators);
        let widths = column_widths(&cells, width);
        let op_width = widths.iter().sum::<usize>() + widths.len() + 1;
        let title = StyledText::plain("Operators (forward pass)");
        out.push_str(&paint(&center(&title, op_width), Style::ITALIC, color));
        out.push('\n');
        draw_box(&mut out, &cells, &widths, color);
        out.push_str("\n\n");
    }
    for note in &summary.notes {
        out.push_str(&paint(
            &StyledText::plain(format!("* {note}")),
            Style::DIM,
            color,
        ));
        out.push('\n');
    }
    if !summary.notes.is_empty() {
        out.push('\n');
    }
    out
}

/// `Trainable Parameters: 40 (160 B)`; `0` when there are none.
fn size_line(label: &str, size: crate::summary::Size) -> StyledText {
    let mut line = StyledText::plain(label);
    if size.count == 0 {
        line.push("0", Style::NONE);
    } else {
        line.append(&format::size_text(size));
    }
    line
}

/// torchinfo's size lines, then the estimate.
fn memory_lines(memory: &crate::summary::MemoryEstimate) -> Vec<StyledText> {
    let bytes = format::bytes_text;
    let activations: u64 = memory.saved_activations.values().sum();
    let mut saved = format!("Saved Activations: {}", bytes(activations));
    if memory.saved_activations.len() > 1 {
        let by: Vec<String> = memory
            .saved_activations
            .iter()
            .map(|(dtype, &b)| format!("{} {}", dtype.name(), bytes(b)))
            .collect();
        saved.push_str(" (");
        saved.push_str(&by.join(", "));
        saved.push(')');
    }
    [
        format!("Input Size: {}", bytes(memory.inputs)),
        format!("Variables Size: {}", bytes(memory.variables)),
        format!("Gradients Size: {}", bytes(memory.gradients)),
        format!(
            "Optimizer State Size ({}): {}",
            memory.optimizer.name(),
            bytes(memory.optimizer_state)
        ),
        saved,
        format!("Estimated Training-Step Memory: {}", bytes(memory.total)),
    ]
    .into_iter()
    .map(StyledText::plain)
    .collect()
}

// ------------------------------------------------------------------ column widths

/// The width in terminal cells of the widest line of `s`.
fn text_width(s: &str) -> usize {
    s.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

/// Whether every byte of `text` is printable ASCII or a newline.
fn plain_ascii(text: &str) -> bool {
    text.bytes()
        .all(|b| (0x20..0x7f).contains(&b) || b == b'\n')
}

/// The width in terminal cells of the widest line of a cell: of printable ASCII, its
/// longest line's bytes.
fn longest_line(text: &str) -> usize {
    let (mut start, mut longest, mut ascii) = (0, 0, true);
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if b == b'\n' {
            longest = longest.max(i - start);
            start = i + 1;
        } else {
            ascii &= (0x20..0x7f).contains(&b);
        }
    }
    if ascii {
        longest.max(text.len() - start)
    } else {
        text_width(text)
    }
}

/// The maximum of rich's `Measurement.get` of a cell (`Padding(Text)`, one space on each
/// side): its longest line and padding, within `max_width`. (Its minimum, the longest
/// word, only matters to tables that expand or have no-wrap columns: not these.)
fn measure_cell(text: &str, max_width: usize) -> usize {
    match max_width {
        0 => 0,
        1 | 2 => max_width,
        _ => (longest_line(text).min(max_width) + 2).min(max_width),
    }
}

/// The maximum of rich's `_measure_column`: its widest cell's, within `max_width`.
fn measure_column(cells: &Cells, column: usize, max_width: usize) -> usize {
    if max_width < 1 {
        return 0;
    }
    let header = measure_cell(&cells.headers[column], max_width);
    (0..cells.rows.len())
        .map(|row| cells.rows.cell(row, column))
        .chain(std::iter::once(cells.footers[column].borrow()))
        .map(|t| measure_cell(t.as_str(), max_width))
        .fold(header, usize::max)
        .min(max_width)
}

/// rich's `Table._calculate_column_widths` for a table without fixed or no-wrap columns.
fn column_widths(cells: &Cells, width: Option<usize>) -> Vec<usize> {
    let n = cells.headers.len();
    let borders = n + 1;
    let available = width.map_or(usize::MAX / 2, |w| w.saturating_sub(borders));
    let mut widths: Vec<usize> = (0..n)
        .map(|c| match measure_column(cells, c, available) {
            0 => 1,
            w => w,
        })
        .collect();
    if widths.iter().sum::<usize>() > available {
        widths = collapse_widths(&widths, available);
        let total: usize = widths.iter().sum();
        if total > available {
            let excess = total - available;
            widths = ratio_reduce(excess, &vec![1; n], &widths.clone(), &widths);
        }
        // Below the narrowest table (one character and its padding per column: width
        // 4 × columns + 1) columns keep that minimum, so the box stays aligned: the
        // documented fallback of `RenderOptions::width`.
        widths = (0..n)
            .map(|c| measure_column(cells, c, widths[c]).max(MIN_COLUMN))
            .collect();
    }
    widths
}

/// The narrowest column: one character (or `…`) between its two spaces of padding.
const MIN_COLUMN: usize = 3;

/// rich's `_collapse_widths`: repeatedly narrow the widest columns to the next widest.
fn collapse_widths(widths: &[usize], max_width: usize) -> Vec<usize> {
    let mut widths = widths.to_vec();
    let mut total: usize = widths.iter().sum();
    let mut excess = total.saturating_sub(max_width);
    while total > 0 && excess > 0 {
        let widest = *widths.iter().max().unwrap_or(&0);
        let second = widths
            .iter()
            .copied()
            .filter(|&w| w != widest)
            .max()
            .unwrap_or(0);
        let difference = widest - second;
        let ratios: Vec<usize> = widths.iter().map(|&w| usize::from(w == widest)).collect();
        if difference == 0 || ratios.iter().all(|&r| r == 0) {
            break;
        }
        let maximums = vec![excess.min(difference); widths.len()];
        widths = ratio_reduce(excess, &ratios, &maximums, &widths);
        total = widths.iter().sum();
        excess = total.saturating_sub(max_width);
    }
    widths
}

/// rich's `ratio_reduce`: take `total` away from `values` in proportion to `ratios`,
/// at most `maximums` from each, rounding half to even like Python's `round`.
fn ratio_reduce(
    total: usize,
    ratios: &[usize],
    maximums: &[usize],
    values: &[usize],
) -> Vec<usize> {
    let ratios: Vec<usize> = ratios
        .iter()
        .zip(maximums)
        .map(|(&r, &m)| if m > 0 { r } else { 0 })
        .collect();
    let mut total_ratio: usize = ratios.iter().sum();
    if total_ratio == 0 {
        return values.to_vec();
    }
    let mut remaining = total;
    let mut result = Vec::with_capacity(values.len());
    for ((&ratio, &maximum), &value) in ratios.iter().zip(maximums).zip(values) {
        if ratio > 0 && total_ratio > 0 {
            let share = (ratio as f64 * remaining as f64 / total_ratio as f64).round_ties_even();
            // A rounded share of `remaining`: non-negative and no larger than it.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let distributed = maximum.min(share as usize);
            result.push(value.saturating_sub(distributed));
            remaining = remaining.saturating_sub(distributed);
            total_ratio -= ratio;
        } else {
            result.push(value);
        }
    }
    result
}

// ------------------------------------------------------------------ wrapping

/// A piece of a rendered line: text borrowed from a cell (or static: padding, `…`) with
/// its style. A line's pieces are painted in runs of one style, as rich merges them.
type Piece<'a> = (&'a str, Style);

/// Spaces to borrow padding from.
const SPACES: &str = "                                                                ";

/// The wrapped lines of one row's cells: every line's pieces in one list (reused from row
/// to row), each line a range of it.
#[derive(Default)]
struct Wrapped<'a> {
    pieces: Vec<Piece<'a>>,
    lines: Vec<Range<usize>>,
    /// Per column, its lines' range in `lines`.
    columns: Vec<Range<usize>>,
    /// The cell being wrapped, split at newlines.
    split: Vec<Piece<'a>>,
    /// Where each of its lines starts in `split`.
    starts: Vec<usize>,
    /// A line being cut or trimmed.
    scratch: Vec<Piece<'a>>,
}

impl<'a> Wrapped<'a> {
    fn clear(&mut self) {
        self.pieces.clear();
        self.lines.clear();
        self.columns.clear();
    }

    /// Line `i`'s pieces.
    fn line(&self, i: usize) -> &[Piece<'a>] {
        &self.pieces[self.lines[i].clone()]
    }

    /// rich's `Text.wrap` with `overflow="ellipsis"`: split at newlines, break lines at
    /// whitespace, crop surplus trailing spaces, justify, and end over-long words with
    /// `…`. Appends the lines of `text`, `width` wide, and returns their range.
    fn wrap(&mut self, text: StyledStr<'a>, width: usize, right: bool) -> Range<usize> {
        let first = self.lines.len();
        // `Text.split(allow_blank=True)`: one line more than there are newlines.
        self.split.clear();
        self.starts.clear();
        self.starts.push(0);
        for (run, style) in text.runs() {
            for (i, part) in run.split('\n').enumerate() {
                if i > 0 {
                    self.starts.push(self.split.len());
                }
                push_piece(&mut self.split, part, style);
            }
        }
        for l in 0..self.starts.len() {
            let end = self.starts.get(l + 1).copied().unwrap_or(self.split.len());
            let range = self.starts[l]..end;
            let bytes: usize = self.split[range.clone()].iter().map(|p| p.0.len()).sum();
            // A line of at most `width` bytes has at most `width` characters and cells:
            // nothing breaks or is stripped, it is only justified.
            if bytes <= width {
                let line = std::mem::take(&mut self.split);
                self.justify(&line[range], width, right);
                self.split = line;
                continue;
            }
            let plain: String = self.split[range.clone()].iter().map(|p| p.0).collect();
            let breaks = divide_line(&plain, width);
            let line: Vec<Piece<'a>> = self.split[range].to_vec();
            let mut piece: Vec<Piece<'a>> = Vec::new();
            for (start, end) in std::iter::once(0)
                .chain(breaks.iter().copied())
                .zip(breaks.iter().copied().chain(std::iter::once(plain.len())))
            {
                piece.clear();
                slice_bytes(&line, start, end, &mut piece);
                // rich's `rstrip_end`: drop trailing whitespace beyond `width`.
                let length: usize = piece.iter().map(|p| p.0.chars().count()).sum();
                if length > width {
                    let trailing = trailing_whitespace(&piece);
                    let mut cut = Vec::new();
                    take_chars(&piece, length - trailing.min(length - width), &mut cut);
                    piece = cut;
                }
                self.justify(&piece, width, right);
            }
        }
        first..self.lines.len()
    }

    /// Left: cut with `…` or pad to `width`. Right: strip, cut, pad on the left. Appends
    /// the line.
    fn justify(&mut self, text: &[Piece<'a>], width: usize, right: bool) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let text = if right {
            let length: usize = text.iter().map(|p| p.0.chars().count()).sum();
            take_chars(text, length - trailing_whitespace(text), &mut scratch);
            &scratch[..]
        } else {
            text
        };
        let start = self.pieces.len();
        let length = pieces_width(text);
        if length > width {
            take_cells(text, width.saturating_sub(1), &mut self.pieces);
            push_piece(&mut self.pieces, "…", Style::NONE);
        } else if right {
            push_spaces(&mut self.pieces, width - length);
            self.pieces.extend_from_slice(text);
        } else {
            self.pieces.extend_from_slice(text);
            push_spaces(&mut self.pieces, width - length);
        }
        self.lines.push(start..self.pieces.len());
        self.scratch = scratch;
    }
}

/// Appends a piece (nothing for empty text).
fn push_piece<'a>(out: &mut Vec<Piece<'a>>, text: &'a str, style: Style) {
    if !text.is_empty() {
        out.push((text, style));
    }
}

/// Appends `n` unstyled spaces.
fn push_spaces(out: &mut Vec<Piece<'_>>, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push((&SPACES[..k], Style::NONE));
        n -= k;
    }
}

/// Appends `n` spaces to `out`.
fn push_spaces_str(out: &mut String, mut n: usize) {
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// How many characters at the end of `line` are whitespace.
fn trailing_whitespace(line: &[Piece<'_>]) -> usize {
    let mut count = 0;
    for (run, _) in line.iter().rev() {
        let trailing = run.chars().rev().take_while(|c| c.is_whitespace()).count();
        count += trailing;
        if trailing < run.chars().count() {
            break;
        }
    }
    count
}

/// The width in terminal cells of a line's text.
fn pieces_width(line: &[Piece<'_>]) -> usize {
    if line
        .iter()
        .all(|p| p.0.bytes().all(|b| (0x20..0x7f).contains(&b)))
    {
        return line.iter().map(|p| p.0.len()).sum();
    }
    let text: String = line.iter().map(|p| p.0).collect();
    text_width(&text)
}

/// The pieces of `line` between byte offsets `start` and `end` of its text.
fn slice_bytes<'a>(line: &[Piece<'a>], start: usize, end: usize, out: &mut Vec<Piece<'a>>) {
    let mut offset = 0;
    for &(run, style) in line {
        let (a, b) = (offset, offset + run.len());
        offset = b;
        if b <= start || a >= end {
            continue;
        }
        push_piece(out, &run[start.max(a) - a..end.min(b) - a], style);
    }
}

/// The first `n` characters of `line`.
fn take_chars<'a>(line: &[Piece<'a>], n: usize, out: &mut Vec<Piece<'a>>) {
    let mut left = n;
    for &(run, style) in line {
        if left == 0 {
            break;
        }
        let end = run.char_indices().nth(left).map_or(run.len(), |(i, _)| i);
        let taken = &run[..end];
        left -= taken.chars().count();
        push_piece(out, taken, style);
    }
}

/// The first `n` cells of `line`, exactly `n` wide: a wide character that would straddle
/// the edge becomes a space (rich's `set_cell_size`).
fn take_cells<'a>(line: &[Piece<'a>], n: usize, out: &mut Vec<Piece<'a>>) {
    let mut used = 0;
    'runs: for &(run, style) in line {
        for (i, c) in run.char_indices() {
            let w = c.width().unwrap_or(0);
            if used + w > n {
                push_piece(out, &run[..i], style);
                break 'runs;
            }
            used += w;
        }
        push_piece(out, run, style);
    }
    push_spaces(out, n - used);
}

/// rich's `divide_line` without folding: offsets where lines break.
fn divide_line(text: &str, width: usize) -> Vec<usize> {
    let mut breaks = Vec::new();
    let mut offset = 0usize;
    for (start, word) in words(text) {
        let word_length = text_width(word.trim_end());
        let remaining = width.saturating_sub(offset);
        if remaining >= word_length {
            offset += text_width(word);
        } else if word_length > width {
            if start > 0 {
                breaks.push(start);
            }
            offset = text_width(word);
        } else if offset > 0 && start > 0 {
            breaks.push(start);
            offset = text_width(word);
        }
    }
    breaks
}

/// The matches of `\s*\S+\s*`: each word with the whitespace around it, and its start.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let bytes = text.char_indices().collect::<Vec<_>>();
    let mut i = 0;
    while i < bytes.len() {
        let start = bytes[i].0;
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        while i < bytes.len() && !bytes[i].1.is_whitespace() {
            i += 1;
        }
        while i < bytes.len() && bytes[i].1.is_whitespace() {
            i += 1;
        }
        let end = bytes.get(i).map_or(text.len(), |b| b.0);
        out.push((start, &text[start..end]));
    }
    out
}

/// The first `n` characters of styled text.
fn truncate_chars(text: &StyledText, n: usize) -> StyledText {
    let mut out = StyledText::default();
    let mut left = n;
    for (run, style) in text.runs() {
        if left == 0 {
            break;
        }
        let end = run.char_indices().nth(left).map_or(run.len(), |(i, _)| i);
        let taken = &run[..end];
        left -= taken.chars().count();
        out.push(taken, style);
    }
    out
}

/// rich's centre justification of an annotation line to `width`.
fn center(text: &StyledText, width: usize) -> StyledText {
    let trimmed = text.as_str().trim_end().chars().count();
    let text = truncate_chars(text, trimmed);
    let length = text_width(text.as_str()).min(width);
    let left = (width - length) / 2;
    let mut line = StyledText::plain(" ".repeat(left));
    line.append(&text);
    line.push(" ".repeat(width - length - left), Style::NONE);
    line
}

// ------------------------------------------------------------------ painting

/// Writes styled runs, each with the extra `style` on top; ANSI escapes when `color`.
fn paint(text: &StyledText, style: Style, color: bool) -> String {
    let mut out = String::new();
    paint_into(&mut out, text, style, color);
    out
}

/// [`paint`], appending to `out`.
fn paint_into(out: &mut String, text: &StyledText, style: Style, color: bool) {
    for (run, own) in text.runs() {
        let sgr = own.with(style).sgr().filter(|_| color);
        match sgr {
            Some(codes) => {
                out.push_str("\x1b[");
                out.push_str(codes);
                out.push('m');
                out.push_str(run);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(run),
        }
    }
}

/// Writes a line's pieces, each run of one style with the extra `style` on top; ANSI
/// escapes when `color`.
fn paint_pieces(out: &mut String, line: &[Piece<'_>], style: Style, color: bool) {
    let mut rest = line;
    while let Some(&(_, own)) = rest.first() {
        let n = rest.iter().take_while(|p| p.1 == own).count();
        let sgr = own.with(style).sgr().filter(|_| color);
        if let Some(codes) = sgr {
            out.push_str("\x1b[");
            out.push_str(codes);
            out.push('m');
        }
        for (text, _) in &rest[..n] {
            out.push_str(text);
        }
        if sgr.is_some() {
            out.push_str("\x1b[0m");
        }
        rest = &rest[n..];
    }
}

/// Writes one line of a cell, `width` wide (padding included), painted; `None` is a
/// blank line.
fn push_cell_line(
    out: &mut String,
    line: Option<&[Piece<'_>]>,
    width: usize,
    style: Style,
    color: bool,
) {
    let sgr = style.sgr().filter(|_| color);
    let spaces = |out: &mut String, n: usize| {
        if n == 0 {
            return;
        }
        match &sgr {
            Some(codes) => {
                out.push_str("\x1b[");
                out.push_str(codes);
                out.push('m');
                push_spaces_str(out, n);
                out.push_str("\x1b[0m");
            }
            None => push_spaces_str(out, n),
        }
    };
    let Some(line) = line else {
        spaces(out, width);
        return;
    };
    if width >= 1 {
        spaces(out, 1);
    }
    paint_pieces(out, line, style, color);
    if width >= 2 {
        spaces(out, 1);
    }
}

/// Writes one row's lines: each cell wrapped to its column, short cells padded below (or
/// above, for the `header`, which is bottom-aligned between heavy borders).
fn draw_row<'a>(
    out: &mut String,
    texts: &[StyledStr<'a>],
    widths: &[usize],
    (style, right, header): (Style, &[bool], bool),
    color: bool,
    wrapped: &mut Wrapped<'a>,
) {
    let border = if header { '┃' } else { '│' };
    wrapped.clear();
    let mut columns = std::mem::take(&mut wrapped.columns);
    columns.extend(
        texts
            .iter()
            .enumerate()
            .map(|(c, &t)| wrapped.wrap(t, widths[c].saturating_sub(2), right[c])),
    );
    let height = row_height(&columns);
    for line in 0..height {
        out.push(border);
        for (column, lines) in columns.iter().enumerate() {
            let index = if header {
                line.checked_sub(height - lines.len())
            } else {
                Some(line)
            };
            let text = index
                .filter(|&i| i < lines.len())
                .map(|i| wrapped.line(lines.start + i));
            push_cell_line(out, text, widths[column], style, color);
            out.push(border);
        }
        out.push('\n');
    }
    wrapped.columns = columns;
}

/// One line of a plain row: its text, and whether it was cut (an ellipsis follows).
type PlainLine<'a> = (&'a str, bool);

/// The lines of a body row's cells when no cell needs wrapping, escaping or colour: every
/// byte printable ASCII or a newline, every line within its column or a single word
/// (no space), which rich cuts to one cell less than the column and ends with `…`. Such a
/// row is written straight from the cells' text (what the general path writes for it,
/// byte for byte).
fn plain_lines<'a>(
    texts: &[StyledStr<'a>],
    widths: &[usize],
    lines: &mut Vec<PlainLine<'a>>,
    columns: &mut Vec<Range<usize>>,
) -> bool {
    lines.clear();
    columns.clear();
    for (text, &width) in texts.iter().zip(widths) {
        if width < 3 {
            return false;
        }
        let inner = width - 2;
        let (text, first) = (text.as_str(), lines.len());
        if !plain_ascii(text) {
            return false;
        }
        for line in text.split('\n') {
            if line.len() <= inner {
                lines.push((line, false));
            } else if line.as_bytes().contains(&b' ') {
                // Breaks at its spaces: the general path.
                return false;
            } else {
                lines.push((&line[..inner - 1], true));
            }
        }
        columns.push(first..lines.len());
    }
    true
}

/// The lines a body row takes: its tallest cell's (`columns` holds each cell's range of
/// wrapped lines), at least one.
fn row_height(columns: &[Range<usize>]) -> usize {
    columns
        .iter()
        .map(ExactSizeIterator::len)
        .max()
        .unwrap_or(1)
}

/// A body line whose cells are all blank: `│`, each column's spaces and `│`, a newline;
/// with the byte where each column's spaces start. A plain row's lines are copied from it
/// in runs, its text written over the blanks.
struct BlankLine {
    text: String,
    starts: Vec<usize>,
}

impl BlankLine {
    fn new(widths: &[usize]) -> BlankLine {
        let mut text = String::with_capacity(3 * (widths.iter().sum::<usize>() + widths.len() + 2));
        let mut starts = Vec::with_capacity(widths.len());
        text.push('│');
        for &width in widths {
            starts.push(text.len());
            push_spaces_str(&mut text, width);
            text.push('│');
        }
        text.push('\n');
        BlankLine { text, starts }
    }
}

/// Writes a row whose cells [`plain_lines`] split: each line padded to its column, short
/// cells padded below, no colour. A line is the blank line with each cell's text in
/// place of its spaces (after the one of padding): the blanks between texts are copied
/// in one piece.
fn draw_plain_row(
    out: &mut String,
    lines: &[PlainLine<'_>],
    columns: &[Range<usize>],
    blank: &BlankLine,
) {
    let height = row_height(columns);
    for line in 0..height {
        let mut from = 0;
        for (cell, &start) in columns.iter().zip(&blank.starts) {
            let Some(&(text, cut)) = lines[cell.clone()].get(line) else {
                continue;
            };
            if text.is_empty() && !cut {
                continue;
            }
            // Printable ASCII: a byte is a column; the line fits in its column's inner
            // width (`plain_lines`), so the padding space after it stays.
            let at = start + 1;
            out.push_str(&blank.text[from..at]);
            out.push_str(text);
            if cut {
                out.push('…');
            }
            from = at + text.len() + usize::from(cut);
        }
        out.push_str(&blank.text[from..]);
    }
}

/// Lays out every row inside rich's `HEAVY_HEAD` box: heavy lines around the header,
/// light ones between rows.
fn draw_box(out: &mut String, cells: &Cells, widths: &[usize], color: bool) {
    let n = widths.len();
    // At least two lines a row (its text and the rule below), box characters 3 bytes.
    let line = 3 * (widths.iter().sum::<usize>() + n + 1);
    out.reserve(line * (2 * cells.rows.len() + 8));
    let mut texts: Vec<StyledStr<'_>> = Vec::with_capacity(n);
    let make_rule = |[left, fill, cross, right]: [char; 4]| {
        let mut rule = String::with_capacity(line + 1);
        rule.push(left);
        for (c, &w) in widths.iter().enumerate() {
            if c > 0 {
                rule.push(cross);
            }
            rule.extend(std::iter::repeat_n(fill, w));
        }
        rule.push(right);
        rule.push('\n');
        rule
    };
    // The light rule between rows is written once per row: made once.
    let between = make_rule(['├', '─', '┼', '┤']);
    let rule = |out: &mut String, chars: [char; 4]| {
        if chars[0] == '├' {
            out.push_str(&between);
        } else {
            out.push_str(&make_rule(chars));
        }
    };
    rule(out, ['┏', '━', '┳', '┓']);
    let headers: Vec<StyledText> = cells.headers.iter().map(StyledText::plain).collect();
    let left = vec![false; n];
    let mut wrapped = Wrapped::default();
    texts.extend(headers.iter().map(StyledText::borrow));
    draw_row(
        out,
        &texts,
        widths,
        (Style::BOLD, &left, true),
        color,
        &mut wrapped,
    );
    rule(out, ['┡', '━', '╇', '┩']);
    let (mut plain, mut plain_columns) = (Vec::new(), Vec::new());
    let blank = BlankLine::new(widths);
    for i in 0..cells.rows.len() {
        if i > 0 {
            rule(out, ['├', '─', '┼', '┤']);
        }
        texts.clear();
        texts.extend(cells.rows.row(i));
        if !color && plain_lines(&texts, widths, &mut plain, &mut plain_columns) {
            draw_plain_row(out, &plain, &plain_columns, &blank);
            continue;
        }
        draw_row(
            out,
            &texts,
            widths,
            (Style::NONE, &left, false),
            color,
            &mut wrapped,
        );
    }
    rule(out, ['├', '─', '┼', '┤']);
    let right: Vec<bool> = (0..n).map(|c| c == cells.total_column).collect();
    texts.clear();
    texts.extend(cells.footers.iter().map(StyledText::borrow));
    draw_row(
        out,
        &texts,
        widths,
        (Style::BOLD, &right, false),
        color,
        &mut wrapped,
    );
    rule(out, ['└', '─', '┴', '┘']);
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of each line `text` wraps to.
    fn wrap(text: &StyledText, width: usize, right: bool) -> Vec<String> {
        let mut wrapped = Wrapped::default();
        let lines = wrapped.wrap(text.borrow(), width, right);
        lines
            .map(|i| wrapped.line(i).iter().map(|p| p.0).collect())
            .collect()
    }

    #[test]
    fn wrap_paints_runs_of_one_style_once() {
        let mut text = StyledText::plain("x: ");
        text.push("float32", Style::DIM);
        text.push("[4]", Style::NONE);
        let mut wrapped = Wrapped::default();
        let lines = wrapped.wrap(text.borrow(), 16, false);
        let mut out = String::new();
        paint_pieces(&mut out, wrapped.line(lines.start), Style::BOLD, true);
        assert_eq!(
            out,
            "\x1b[1mx: \x1b[0m\x1b[1;2mfloat32\x1b[0m\x1b[1m[4]   \x1b[0m"
        );
    }

    #[test]
    fn divide_line_matches_rich() {
        assert_eq!(divide_line("bias: float32[4]", 10), vec![6]);
        assert_eq!(divide_line("kernel: float32[9,4]", 10), vec![8]);
        assert_eq!(divide_line("40 (160 B)", 10), Vec::<usize>::new());
        assert_eq!(divide_line("float32[16,9]", 10), Vec::<usize>::new());
        assert_eq!(divide_line("a b c d", 3), vec![4]);
    }

    #[test]
    fn wrap_truncates_with_ellipsis() {
        assert_eq!(
            wrap(&StyledText::plain("kernel: float32[9,4]"), 10, false),
            ["kernel:   ", "float32[9…"]
        );
        assert_eq!(wrap(&StyledText::plain("Total"), 9, true), ["    Total"]);
    }

    #[test]
    fn automatic_width_and_colour_follow_the_environment() {
        let auto = RenderOptions::auto();
        let pipe = Environment::default();
        assert_eq!(auto.resolve(&pipe), (None, false));
        let columns = Environment {
            columns: Some("90".into()),
            ..Environment::default()
        };
        assert_eq!(auto.resolve(&columns), (Some(90), false));
        let terminal = Environment {
            is_terminal: true,
            terminal_width: Some(120),
            ..Environment::default()
        };
        assert_eq!(auto.resolve(&terminal), (Some(120), true));
        let no_color = Environment {
            no_color: Some("1".into()),
            ..terminal
        };
        assert_eq!(auto.resolve(&no_color), (Some(120), false));
        let empty_no_color = Environment {
            no_color: Some(String::new()),
            columns: Some("80".into()),
            ..no_color
        };
        assert_eq!(auto.resolve(&empty_no_color), (Some(80), true));
        // Explicit choices win over the environment.
        let explicit = RenderOptions::auto().width(50).color(ColorChoice::Never);
        assert_eq!(explicit.resolve(&empty_no_color), (Some(50), false));
        assert_eq!(RenderOptions::new().resolve(&empty_no_color), (None, false));
        assert_eq!(
            RenderOptions::new()
                .color(ColorChoice::Always)
                .resolve(&pipe),
            (None, true)
        );
    }

    #[test]
    fn colour_follows_no_color_then_force_color_then_term() {
        let env = |vars: &[(&str, &str)], is_terminal: bool| {
            let get = |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_string())
            };
            Environment {
                no_color: get("NO_COLOR"),
                force_color: get("FORCE_COLOR"),
                clicolor_force: get("CLICOLOR_FORCE"),
                term: get("TERM"),
                is_terminal,
                ..Environment::default()
            }
        };
        let color = |vars: &[(&str, &str)], is_terminal: bool| {
            RenderOptions::auto().resolve(&env(vars, is_terminal)).1
        };
        // Forced on a pipe.
        assert!(color(&[("FORCE_COLOR", "1")], false));
        assert!(color(&[("FORCE_COLOR", "0")], false)); // any non-empty value forces
        assert!(!color(&[("FORCE_COLOR", "")], false));
        assert!(color(&[("CLICOLOR_FORCE", "1")], false));
        assert!(!color(&[("CLICOLOR_FORCE", "0")], false));
        // TERM=dumb turns a terminal's colour off, unless forced.
        assert!(!color(&[("TERM", "dumb")], true));
        assert!(color(&[("TERM", "xterm-256color")], true));
        assert!(color(&[("TERM", "dumb"), ("FORCE_COLOR", "1")], true));
        // NO_COLOR wins over everything.
        assert!(!color(&[("NO_COLOR", "1"), ("FORCE_COLOR", "1")], true));
        assert!(!color(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")], false));
        assert!(color(&[("NO_COLOR", ""), ("FORCE_COLOR", "1")], false));
        // Explicit choices win over the environment.
        let never = RenderOptions::auto().color(ColorChoice::Never);
        assert!(!never.resolve(&env(&[("FORCE_COLOR", "1")], true)).1);
        let always = RenderOptions::auto().color(ColorChoice::Always);
        assert!(always.resolve(&env(&[("NO_COLOR", "1")], false)).1);
    }

    #[test]
    fn escapes_replace_control_characters() {
        assert_eq!(format::escape("Dense_0"), "Dense_0");
        assert_eq!(format::escape("a\x1b[1mb\x00\r"), "a\\x1b[1mb\\x00\\r");
        assert_eq!(format::escape("\u{9b}\u{2066}"), "\\x9b\\u{2066}");
    }

    #[test]
    fn wide_characters_are_cut_to_exact_cells() {
        let mut cut = Vec::new();
        take_cells(&[("密集層", Style::NONE)], 3, &mut cut);
        assert_eq!(cut, [("密", Style::NONE), (" ", Style::NONE)]);
        assert_eq!(wrap(&StyledText::plain("密集層😀"), 6, false), ["密集 …"]);
    }

    #[test]
    fn ratio_reduce_rounds_half_to_even() {
        assert_eq!(ratio_reduce(3, &[1, 1], &[3, 3], &[10, 10]), vec![8, 9]);
        assert_eq!(ratio_reduce(5, &[0, 1], &[5, 5], &[10, 10]), vec![10, 5]);
    }
}
