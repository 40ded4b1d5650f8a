//! `#[derive(Describe)]`: a struct shown in the `inputs`/`outputs` cells the way Flax shows
//! a `flax.struct.dataclass` (a mapping of its fields, keys sorted) or a `NamedTuple` (a
//! tuple struct: a list of its fields).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, parse_quote_spanned};

use crate::ast::Field;
use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand::{mentions, type_params};

/// The derive's output: the impl, or the errors plus a stub impl so that uses of the type
/// elsewhere add no second wave of errors.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match try_expand(input) {
        Ok(expanded) => expanded,
        Err(error) => {
            let error = error.into_compile_error();
            let stub = impl_describe(input, &quote!(::tabulate::Value::none()), None);
            quote!(#error #stub)
        }
    }
}

fn try_expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::default();
    let container = attr::Container::from_ast(&cx, &input.attrs);
    if let Some(rename) = &container.rename {
        cx.error_spanned_by(
            rename,
            "`rename` names a module type; `#[derive(Describe)]` shows no type name",
        );
    }
    let fields = match &input.data {
        Data::Struct(data) => Field::all_from_ast(&cx, &data.fields),
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                "`#[derive(Describe)]` supports structs only; for an enum, implement `tabulate::Describe` by hand",
            );
            Vec::new()
        }
        Data::Union(data) => {
            cx.error_spanned_by(
                data.union_token,
                "`#[derive(Describe)]` does not support unions",
            );
            Vec::new()
        }
    };
    for field in &fields {
        if let Some(identity) = &field.attrs.identity {
            cx.error_spanned_by(
                identity,
                "`identity` belongs on a module's field; `#[derive(Describe)]` takes only `skip` and `rename`",
            );
        }
        if let (Some(_), Some(rename)) = (&field.attrs.skip, &field.attrs.rename) {
            cx.error_spanned_by(rename, "`rename` has no effect on a `skip` field");
        } else if let (syn::Member::Unnamed(_), Some(rename)) = (&field.member, &field.attrs.rename)
        {
            cx.error_spanned_by(
                rename,
                "a tuple struct shows as a list, without keys: `rename` has no effect here",
            );
        }
    }
    cx.check()?;
    let params = type_params(&input.generics);
    let mut bounds = Vec::new();
    let shown: Vec<&Field<'_>> = fields.iter().filter(|f| f.attrs.skip.is_none()).collect();
    let values: Vec<TokenStream> = shown
        .iter()
        .map(|field| {
            let (member, ty) = (&field.member, field.ty);
            if mentions(ty, &params) {
                bounds.push(parse_quote_spanned!(ty.span()=> #ty: ::tabulate::Describe));
            }
            quote_spanned!(ty.span()=> ::tabulate::Describe::describe(&self.#member))
        })
        .collect();
    let body = match &input.data {
        Data::Struct(data) if matches!(data.fields, Fields::Unnamed(_)) => {
            quote!(::tabulate::Value::sequence([#(#values),*]))
        }
        _ => {
            let keys = shown.iter().map(|field| field.path_name());
            quote! {
                ::tabulate::Value::mapping::<&'static str>([
                    #((#keys, #values)),*
                ])
            }
        }
    };
    Ok(impl_describe(input, &body, Some(bounds)))
}

fn impl_describe(
    input: &DeriveInput,
    body: &TokenStream,
    bounds: Option<Vec<syn::WherePredicate>>,
) -> TokenStream {
    let ident = &input.ident;
    let mut generics = input.generics.clone();
    for bound in bounds.into_iter().flatten() {
        generics.make_where_clause().predicates.push(bound);
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::tabulate::Describe for #ident #ty_generics #where_clause {
            fn describe(&self) -> ::tabulate::Value {
                #body
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> String {
        derive(&syn::parse2(input).unwrap()).to_string()
    }

    #[test]
    fn named_fields_become_a_mapping() {
        let out = expand(quote!(
            struct Out {
                zeta: Tensor,
                #[tabulate(rename = "a")]
                alpha: Tensor,
                #[tabulate(skip)]
                cache: Vec<u8>,
            }
        ));
        assert!(
            out.contains("(\"zeta\" , :: tabulate :: Describe :: describe (& self . zeta))"),
            "{out}"
        );
        assert!(
            out.contains("(\"a\" , :: tabulate :: Describe :: describe (& self . alpha))"),
            "{out}"
        );
        assert!(!out.contains("cache"), "{out}");
    }

    #[test]
    fn tuple_structs_become_a_sequence() {
        let out = expand(quote!(
            struct Pair<T>(T, Tensor);
        ));
        assert!(out.contains(":: tabulate :: Value :: sequence"), "{out}");
        assert!(out.contains("where T : :: tabulate :: Describe"), "{out}");
    }
}
