//! `#[tabulate(...)]` attributes on the container and its fields.

use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;

/// Attributes of the deriving type.
#[derive(Default)]
pub(crate) struct Container {
    /// `rename = "…"`: the type name shown in the `module` column.
    pub(crate) rename: Option<LitStr>,
}

/// Attributes of one field.
#[derive(Default)]
pub(crate) struct Field {
    /// `skip`: the field is not visited for submodules.
    pub(crate) skip: Option<syn::Path>,
    /// `rename = "…"`: the name its submodules' paths use.
    pub(crate) rename: Option<LitStr>,
    /// `identity`: the field holds the module's `ModuleIdentity` (an explicit name, and
    /// naming in the module that built it).
    pub(crate) identity: Option<syn::Path>,
    /// `collection = "…"`: the variable collection of the field's `Param`s (default
    /// `params`).
    pub(crate) collection: Option<LitStr>,
}

impl Container {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Container {
        let mut out = Container::default();
        for_each_key(cx, attrs, |meta| {
            if meta.path.is_ident("rename") {
                let value: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut out.rename, &meta.path, value, "rename");
                Ok(())
            } else {
                Err(unknown(&meta, "container"))
            }
        });
        out
    }
}

impl Field {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[Attribute]) -> Field {
        let mut out = Field::default();
        for_each_key(cx, attrs, |meta| {
            if meta.path.is_ident("skip") {
                if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                    return Err(meta.error("`skip` takes no value: write `#[tabulate(skip)]`"));
                }
                set_once(cx, &mut out.skip, &meta.path, meta.path.clone(), "skip");
                Ok(())
            } else if meta.path.is_ident("rename") {
                let value: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut out.rename, &meta.path, value, "rename");
                Ok(())
            } else if meta.path.is_ident("collection") {
                let value: LitStr = meta.value()?.parse()?;
                set_once(cx, &mut out.collection, &meta.path, value, "collection");
                Ok(())
            } else if meta.path.is_ident("identity") {
                if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                    return Err(
                        meta.error("`identity` takes no value: write `#[tabulate(identity)]`")
                    );
                }
                set_once(
                    cx,
                    &mut out.identity,
                    &meta.path,
                    meta.path.clone(),
                    "identity",
                );
                Ok(())
            } else {
                Err(unknown(&meta, "field"))
            }
        });
        out
    }
}

/// Calls `f` for every key of every `#[tabulate(...)]` attribute, recording errors.
fn for_each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    mut f: impl FnMut(syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("tabulate")) {
        if let syn::Meta::Path(path) = &attr.meta {
            cx.error_spanned_by(path, "expected a list of keys: `#[tabulate(skip)]`");
            continue;
        }
        if let Err(error) = attr.parse_nested_meta(&mut f) {
            cx.syn_error(error);
        }
    }
}

fn unknown(meta: &syn::meta::ParseNestedMeta<'_>, place: &str) -> syn::Error {
    let key = meta
        .path
        .get_ident()
        .map_or_else(|| "?".to_string(), ToString::to_string);
    meta.error(format_args!("unknown tabulate {place} attribute `{key}`"))
}

fn set_once<T>(cx: &Ctxt, slot: &mut Option<T>, path: &syn::Path, value: T, key: &str) {
    if slot.is_some() {
        cx.error_spanned_by(path, format!("duplicate tabulate attribute `{key}`"));
    } else {
        *slot = Some(value);
    }
}
