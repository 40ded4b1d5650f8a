//! The deriving type, read from syn's AST: its fields and their attributes.

use syn::{Data, DeriveInput, Fields, Ident, Member, Type};

use crate::attr;
use crate::ctxt::Ctxt;

/// The struct being derived.
pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
    pub(crate) original: &'a DeriveInput,
}

/// One field.
pub(crate) struct Field<'a> {
    pub(crate) member: Member,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
    pub(crate) original: &'a syn::Field,
}

impl<'a> Container<'a> {
    /// Reads `input`; `None` (with an error recorded) for shapes the derive cannot handle.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let attrs = attr::Container::from_ast(cx, &input.attrs);
        let fields = match &input.data {
            Data::Struct(data) => Field::all_from_ast(cx, &data.fields),
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`#[derive(Tabulate)]` supports structs only; put an enum that holds modules in a struct, or implement `Tabulate` by hand",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Tabulate)]` does not support unions",
                );
                return None;
            }
        };
        Some(Container {
            ident: &input.ident,
            attrs,
            fields,
            original: input,
        })
    }
}

impl<'a> Field<'a> {
    /// Reads every field of a struct.
    pub(crate) fn all_from_ast(cx: &Ctxt, fields: &'a Fields) -> Vec<Field<'a>> {
        fields
            .iter()
            .enumerate()
            .map(|(i, field)| Field {
                member: field
                    .ident
                    .clone()
                    .map_or_else(|| Member::Unnamed(i.into()), Member::Named),
                ty: &field.ty,
                attrs: attr::Field::from_ast(cx, &field.attrs),
                original: field,
            })
            .collect()
    }
}

impl Field<'_> {
    /// The name its submodules' paths start with: the field name, its index for tuple
    /// structs, or its `rename`.
    pub(crate) fn path_name(&self) -> String {
        if let Some(rename) = &self.attrs.rename {
            return rename.value();
        }
        match &self.member {
            Member::Named(ident) => {
                let name = ident.to_string();
                name.strip_prefix("r#").map_or(name.clone(), str::to_string)
            }
            Member::Unnamed(index) => index.index.to_string(),
        }
    }
}

impl Field<'_> {
    /// Whether the field holds the module's `ModuleIdentity`: marked
    /// `#[tabulate(identity)]`, or (with no `skip`/`rename`) of a type named
    /// `ModuleIdentity`, so that `name=` needs no attribute.
    pub(crate) fn is_identity(&self) -> bool {
        self.attrs.identity.is_some()
            || (self.attrs.skip.is_none()
                && self.attrs.rename.is_none()
                && is_module_identity(self.ty))
    }
}

/// `ModuleIdentity`, `tabulate::ModuleIdentity`, … (no generic arguments).
fn is_module_identity(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|last| last.ident == "ModuleIdentity" && last.arguments.is_none()),
        Type::Group(group) => is_module_identity(&group.elem),
        Type::Paren(paren) => is_module_identity(&paren.elem),
        _ => false,
    }
}
