//! Checks that need several attributes at once.

use std::collections::HashMap;

use crate::ast::Container;
use crate::ctxt::Ctxt;

pub(crate) fn check(cx: &Ctxt, container: &Container<'_>) {
    let mut seen: HashMap<String, &syn::Field> = HashMap::new();
    let mut identity: Option<&syn::Field> = None;
    for field in &container.fields {
        if field.is_identity() && field.attrs.identity.is_none() {
            if identity.replace(field.original).is_some() {
                cx.error_spanned_by(
                    field.original,
                    "only one field can hold the module's identity (a `ModuleIdentity` field is it); mark any other `#[tabulate(skip)]`",
                );
            }
            continue;
        }
        if let Some(path) = &field.attrs.identity {
            if identity.replace(field.original).is_some() {
                cx.error_spanned_by(path, "only one field can hold the module's identity");
            }
            if field.attrs.skip.is_some() || field.attrs.rename.is_some() {
                cx.error_spanned_by(
                    path,
                    "an `identity` field is neither visited nor renamed: drop `skip`/`rename`",
                );
            }
            if let Some(collection) = &field.attrs.collection {
                cx.error_spanned_by(
                    collection,
                    "an `identity` field holds no parameter: drop `collection`",
                );
            }
            continue;
        }
        if let Some(collection) = &field.attrs.collection {
            check_collection(cx, field.attrs.skip.is_some(), collection);
        }
        if let (Some(_), Some(rename)) = (&field.attrs.skip, &field.attrs.rename) {
            cx.error_spanned_by(rename, "`rename` has no effect on a `skip` field");
        }
        if let Some(rename) = &field.attrs.rename
            && (rename.value().is_empty() || rename.value().contains('/'))
        {
            cx.error_spanned_by(rename, "a field name must be non-empty and contain no `/`");
        }
        if field.attrs.skip.is_some() {
            continue;
        }
        let name = field.path_name();
        if seen.insert(name.clone(), field.original).is_some() {
            cx.error_spanned_by(
                field.original,
                format!("two fields are named `{name}` in module paths"),
            );
        }
    }
    if let Some(rename) = &container.attrs.rename
        && rename.value().is_empty()
    {
        cx.error_spanned_by(rename, "the type name must not be empty");
    }
}

/// `collection = "…"`: a name the table can show as a column and `Mutable` can list.
fn check_collection(cx: &Ctxt, skipped: bool, collection: &syn::LitStr) {
    let name = collection.value();
    if skipped {
        cx.error_spanned_by(
            collection,
            "`collection` has no effect on a `skip` field: a skipped `Param` is not declared",
        );
    } else if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        cx.error_spanned_by(
            collection,
            format!(
                "{name:?} is not a collection name: write a non-empty name without spaces, like `params` or `batch_stats`"
            ),
        );
    }
}
