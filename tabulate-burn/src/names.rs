//! burn's names of its recorded operations, for notes.

use burn::backend::ir::OperationIr;

/// burn's name of an operation: the enum variant and the inner variant, e.g.
/// `NumericFloat::Add`, `Module::Conv2d`, `BaseFloat::Reshape`.
pub(crate) fn op_name(op: &OperationIr) -> String {
    let debug = format!("{op:?}");
    let outer_end = debug.find('(').unwrap_or(debug.len());
    let outer = &debug[..outer_end];
    let mut rest = debug.get(outer_end + 1..).unwrap_or("");
    // Skip a leading dtype argument (`NumericFloat(F32, Add(..))`).
    if let Some(comma) = rest.find(", ")
        && rest[..comma]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '(' || c == ')')
        && !rest[..comma].contains("OpIr")
    {
        rest = &rest[comma + 2..];
    }
    let inner_end = rest
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(rest.len());
    let inner = &rest[..inner_end];
    let kind = match outer {
        "BaseFloat" | "NumericFloat" | "Float" => "Float",
        "BaseInt" | "NumericInt" | "Int" => "Int",
        "BaseBool" | "Bool" => "Bool",
        other => other,
    };
    if inner.is_empty() || inner.ends_with("Ir") {
        kind.to_string()
    } else {
        format!("{kind}::{inner}")
    }
}
