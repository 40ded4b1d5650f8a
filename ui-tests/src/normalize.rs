//! The compiler's output made independent of the machine and of code outside the case.
//!
//! rustc's diagnostics name absolute paths (the workspace, the toolchain's sources, the
//! cargo registry) and line numbers in `tabulate`'s own sources, which move with every edit
//! there. An expected `.stderr` keeps only what the case decides: the case's own spans with
//! their line numbers, foreign spans as `$WORKSPACE/…`, `$RUST/…` or `$CARGO/…` paths
//! without numbers, and the gutter as narrow as the case's own line numbers make it. The
//! rules are trybuild's (1.0.122), so the expected files it wrote stay valid:
//!
//! - the compiler's closing lines (`error: aborting due to …`, `For more information …`,
//!   `Some errors have detailed explanations: …`) are dropped, trailing blanks trimmed;
//! - on a `-->` or `:::` line, the case's path is made relative to the `ui-tests` crate
//!   and keeps `:line:column`; any other file's path is replaced as above and loses its
//!   numbers, as do the snippet lines under it;
//! - `and 12 others` becomes `and $N others` (the count of a trait's implementations);
//! - each diagnostic's gutter is narrowed by the width no remaining line needs.

/// Where a case was compiled: what the machine-specific paths of its output are.
pub(crate) struct Context<'a> {
    /// The case's path as given to rustc (relative to `workspace`), `/` separated.
    pub(crate) input: &'a str,
    /// The prefix of `input` to drop so the case reads as the `ui-tests` crate names it.
    pub(crate) input_prefix: &'a str,
    /// The workspace root, absolute, `/` separated, without a trailing `/`.
    pub(crate) workspace: &'a str,
}

/// The compiler's stderr as an expected `.stderr` file holds it.
pub(crate) fn normalize(stderr: &str, context: &Context<'_>) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut out = String::new();
    let mut hide_numbers = 0;
    for (index, line) in lines.iter().enumerate() {
        let mut line = (*line).to_owned();
        if hide_numbers > 0 {
            hide_leading_numbers(&mut line);
            hide_numbers -= 1;
        }
        if let Some(path_at) = location(&line) {
            if rewrite_location(&mut line, path_at, context) {
                hide_trailing_numbers(&mut line);
                hide_numbers = lines[index + 1..]
                    .iter()
                    .take_while(|next| {
                        matches!(
                            next.trim_start().chars().next(),
                            Some('0'..='9' | '|' | '.')
                        )
                    })
                    .count();
            }
        } else if is_closing_line(&line) {
            continue;
        } else {
            line.truncate(line.trim_end().len());
            others_counted(&mut line);
            line = line.replace(&format!("{}/", context.workspace), "$WORKSPACE/");
        }
        out.push_str(&line);
        if !out.ends_with("\n\n") {
            out.push('\n');
        }
    }
    let out = unindent(&out);
    let trimmed = out.trim_end();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

/// Where the path starts on a `--> path` or `::: path` line.
fn location(line: &str) -> Option<usize> {
    let rest = line.trim_start();
    (rest.starts_with("--> ") || rest.starts_with("::: ")).then(|| line.len() - rest.len() + 4)
}

/// Rewrites the path of a location line; true if it is outside the case (numbers hidden).
fn rewrite_location(line: &mut String, path_at: usize, context: &Context<'_>) -> bool {
    *line = line.replace('\\', "/");
    let path = &line[path_at..];
    if let Some(rest) = path.strip_prefix(context.input)
        && (rest.is_empty() || rest.starts_with(':'))
    {
        line.replace_range(path_at..path_at + context.input_prefix.len(), "");
        return false;
    }
    let replacement = if let Some(at) = path.find("/rustlib/src/rust/library/") {
        Some((at + "/rustlib/src/rust/library".len(), "$RUST"))
    } else if let Some(rest) = path.strip_prefix("/rustc/") {
        let hash_is_hex =
            rest.len() > 40 && rest.as_bytes()[..40].iter().all(u8::is_ascii_hexdigit);
        (hash_is_hex && rest[40..].starts_with("/library/"))
            .then_some(("/rustc/".len() + 40 + "/library".len(), "$RUST"))
    } else if let Some(at) = registry_source(path) {
        Some((at, "$CARGO"))
    } else if let Some(rest) = path.strip_prefix(context.workspace) {
        rest.starts_with('/')
            .then_some((context.workspace.len(), "$WORKSPACE"))
    } else if !path.starts_with('/') {
        // Cargo compiles workspace members from the workspace root, with relative paths.
        line.insert_str(path_at, "$WORKSPACE/");
        return true;
    } else {
        None
    };
    match replacement {
        Some((end, variable)) => {
            line.replace_range(path_at..path_at + end, variable);
            true
        }
        None => false,
    }
}

/// The end of `…/registry/src/<registry>-<16 hex digits>` in a path, if it is one.
fn registry_source(path: &str) -> Option<usize> {
    const PREFIX: &str = "/registry/src/";
    let at = path.find(PREFIX)? + PREFIX.len();
    let segment = &path[at..at + path[at..].find('/')?];
    let (_, hash) = segment.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(at + segment.len())
}

fn is_closing_line(line: &str) -> bool {
    line.starts_with("error: aborting due to ")
        || line.starts_with("Some errors have detailed explanations:")
        || line.starts_with("For more information about this error, try `rustc --explain")
        || line.starts_with("For more information about an error, try `rustc --explain")
}

/// `and 12 others` → `and $N others`.
fn others_counted(line: &mut String) {
    let rest = line.trim_start();
    let indent = line.len() - rest.len();
    if let Some(count) = rest
        .strip_prefix("and ")
        .and_then(|r| r.strip_suffix(" others"))
        && !count.is_empty()
        && count.bytes().all(|b| b.is_ascii_digit())
    {
        line.replace_range(indent + 4..indent + 4 + count.len(), "$N");
    }
}

/// `10 | T: Send,` → `   | T: Send,`.
fn hide_leading_numbers(line: &mut String) {
    let n = line
        .bytes()
        .take_while(|b| *b == b' ' || b.is_ascii_digit())
        .count();
    line.replace_range(..n, &" ".repeat(n));
}

/// `main.rs:22:29` → `main.rs`.
fn hide_trailing_numbers(line: &mut String) {
    for _ in 0..2 {
        let digits = line.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 || !line[..line.len() - digits].ends_with(':') {
            return;
        }
        line.truncate(line.len() - digits - 1);
    }
}

/// How a line takes part in a diagnostic's layout.
#[derive(PartialEq)]
enum Kind {
    /// `error…`, `warning…` (and `note:` opening a block).
    Heading,
    /// A gutter line, with the number of its leading spaces that could go.
    Code(usize),
    /// `note:`, `help:`, `...` and a note's continuation lines.
    Note,
    /// Anything else, with its leading spaces.
    Other(usize),
}

fn kind(line: &str, first_in_block: bool, previous_was_note: &mut bool) -> Kind {
    let after_note = std::mem::replace(previous_was_note, false);
    for heading in ["error", "warning"] {
        if line
            .strip_prefix(heading)
            .is_some_and(|rest| rest.starts_with([':', '[']))
        {
            return Kind::Heading;
        }
    }
    if first_in_block && line.starts_with("note: ") {
        return Kind::Heading;
    }
    if line.starts_with("note:")
        || line == "..."
        || line.starts_with("help:")
        || (after_note && line.starts_with("      "))
    {
        *previous_was_note = true;
        return Kind::Note;
    }
    if let Some(rest) = line.strip_prefix("... ") {
        return Kind::Code(rest.bytes().take_while(|b| *b == b' ').count());
    }
    let leading = line.bytes().take_while(|b| *b == b' ').count();
    let digits = line[leading..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let spaces = leading
        + line[leading + digits..]
            .bytes()
            .take_while(|b| *b == b' ')
            .count();
    let rest = &line[digits + spaces..];
    let marker = |m: &str| rest == m || rest.strip_prefix(m).is_some_and(|r| r.starts_with(' '));
    let gutter = marker("|")
        || (digits > 0 && (marker("~") || marker("+") || marker("-")))
        || (digits == 0 && ["--> ", "::: ", "= "].iter().any(|p| rest.starts_with(p)));
    if spaces > 0 && gutter {
        Kind::Code(spaces - 1)
    } else {
        Kind::Other(if digits == 0 { spaces } else { 0 })
    }
}

/// Narrows each diagnostic's gutter by the spaces no line of it needs.
fn unindent(diagnostics: &str) -> String {
    let mut out = String::new();
    let mut lines = diagnostics.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if kind(line, true, &mut false) != Kind::Heading {
            continue;
        }
        let mut ahead = lines.clone();
        let Some(Kind::Code(indent)) = ahead.next().map(|next| kind(next, false, &mut false))
        else {
            continue;
        };
        let Some(next) = lines.clone().next() else {
            continue;
        };
        if !next[indent + 1..].starts_with("--> ") {
            continue;
        }
        let (mut in_block, mut least, mut note) = (1, indent, false);
        for line in ahead {
            match kind(line, false, &mut note) {
                Kind::Code(indent) => {
                    in_block += 1;
                    least = least.min(indent);
                }
                Kind::Note => in_block += 1,
                Kind::Other(spaces) if spaces > 10 => in_block += 1,
                Kind::Heading | Kind::Other(_) => break,
            }
        }
        let mut note = false;
        for line in lines.by_ref().take(in_block) {
            match (kind(line, false, &mut note), line.find(' ')) {
                (Kind::Code(_) | Kind::Other(_), Some(space)) => {
                    out.push_str(&line[..space]);
                    out.push_str(&line[space + least..]);
                }
                _ => out.push_str(line),
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Context, normalize};

    const CONTEXT: Context<'static> = Context {
        input: "ui-tests/tests/ui/case.rs",
        input_prefix: "ui-tests/",
        workspace: "/home/me/tabulate",
    };

    #[test]
    fn foreign_spans_lose_their_numbers_and_the_gutter_narrows() {
        let raw = "\
error[E0277]: `Hidden` cannot be the result of a `#[forward]` method
   --> ui-tests/tests/ui/case.rs:12:38
    |
12  |     fn forward(&self, x: &Tensor) -> Result<Hidden> {
    |                                      ^^^^^^ results must implement `Describe`
    |
note: required by a bound in `CallGuard::exit`
   --> tabulate-core/src/call.rs:145:20
    |
145 |     pub fn exit<T: ForwardOutput + ?Sized>(mut self, result: &T) {
    |                    ^^^^^^^^^^^^^ required by this bound in `CallGuard::exit`
note: tuple variant defined here
   --> /rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/option.rs:608:4
    = help: the following other types implement trait `Describe`:
              and 17 others

error: aborting due to 1 previous error

For more information about this error, try `rustc --explain E0277`.
";
        let expected = "\
error[E0277]: `Hidden` cannot be the result of a `#[forward]` method
  --> tests/ui/case.rs:12:38
   |
12 |     fn forward(&self, x: &Tensor) -> Result<Hidden> {
   |                                      ^^^^^^ results must implement `Describe`
   |
note: required by a bound in `CallGuard::exit`
  --> $WORKSPACE/tabulate-core/src/call.rs
   |
   |     pub fn exit<T: ForwardOutput + ?Sized>(mut self, result: &T) {
   |                    ^^^^^^^^^^^^^ required by this bound in `CallGuard::exit`
note: tuple variant defined here
  --> $RUST/core/src/option.rs
   = help: the following other types implement trait `Describe`:
             and $N others
";
        assert_eq!(normalize(raw, &CONTEXT), expected);
    }

    #[test]
    fn absolute_and_registry_paths_become_variables() {
        let raw = "\
error: oops
 --> /home/me/tabulate/src/lib.rs:3:1
  |
3 | x
 ::: /home/me/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/syn-3.0.10/src/lib.rs:9:9
";
        let expected = "\
error: oops
 --> $WORKSPACE/src/lib.rs
  |
  | x
 ::: $CARGO/syn-3.0.10/src/lib.rs
";
        assert_eq!(normalize(raw, &CONTEXT), expected);
    }
}
