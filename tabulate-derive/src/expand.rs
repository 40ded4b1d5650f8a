//! Code generation for `#[derive(Tabulate)]`.

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Type, parse_quote_spanned};

use crate::ast::Container;
use crate::ctxt::Ctxt;
use crate::valid;

/// The derive's output: the impl, or the errors plus a stub impl so that uses of the type
/// elsewhere add no second wave of errors.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match try_expand(input) {
        Ok(expanded) => expanded,
        Err(error) => {
            let error = error.into_compile_error();
            let stub = stub_impl(input);
            quote!(#error #stub)
        }
    }
}

fn try_expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::default();
    let Some(container) = Container::from_ast(&cx, input) else {
        cx.check()?;
        return Ok(TokenStream::new());
    };
    valid::check(&cx, &container);
    cx.check()?;
    Ok(impl_tabulate(&container))
}

fn type_name(container: &Container<'_>) -> String {
    container
        .attrs
        .rename
        .as_ref()
        .map_or_else(|| container.ident.to_string(), syn::LitStr::value)
}

fn impl_tabulate(container: &Container<'_>) -> TokenStream {
    let ident = container.ident;
    let name = type_name(container);
    let mut generics = container.original.generics.clone();
    let params = type_params(&generics);
    let mut visits = Vec::new();
    let identity = container
        .fields
        .iter()
        .find(|f| f.is_identity())
        .map(|field| {
            let member = &field.member;
            let span = field.ty.span();
            // The type check doubles as the error for a field of the wrong type.
            quote_spanned! {span=>
                fn identity(&self) -> ::core::option::Option<&::tabulate::ModuleIdentity> {
                    ::core::option::Option::Some(&self.#member)
                }
            }
        });
    for field in container
        .fields
        .iter()
        .filter(|f| f.attrs.skip.is_none() && !f.is_identity())
    {
        let member = &field.member;
        let visit = visit_part(
            &quote!(self.#member),
            field.ty,
            &field.path_name(),
            &params,
            &mut generics,
        );
        visits.push(match &field.attrs.collection {
            Some(collection) => in_collection(field.ty, collection, &visit, &params, &mut generics),
            None => visit,
        });
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::tabulate::Tabulate for #ident #ty_generics #where_clause {
            fn type_name(&self) -> &'static str {
                #name
            }

            fn visit_submodules(&self, __visitor: &mut dyn ::tabulate::Visitor) {
                #(#visits)*
            }

            #identity
        }
    }
}

/// Visits one field, or one element of a tuple field (`access` reads it, `name` is its
/// path name). A tuple is taken apart, its elements named `{name}_{index}` as Flax names
/// a tuple's modules, so that configuration of any type may sit beside modules in it. A
/// part of a concrete type holds submodules exactly when its type implements
/// `Submodules`, which method resolution decides; a part whose type mentions a type
/// parameter must implement it (the impl is bounded on it).
fn visit_part(
    access: &TokenStream,
    ty: &Type,
    name: &str,
    params: &[syn::Ident],
    generics: &mut syn::Generics,
) -> TokenStream {
    match ungroup(ty) {
        Type::Tuple(tuple) if !tuple.elems.is_empty() => tuple
            .elems
            .iter()
            .enumerate()
            .map(|(i, elem)| {
                let index = syn::Index::from(i);
                visit_part(
                    &quote!(#access.#index),
                    elem,
                    &format!("{name}_{i}"),
                    params,
                    generics,
                )
            })
            .collect(),
        _ if mentions(ty, params) => {
            generics
                .make_where_clause()
                .predicates
                .push(parse_quote_spanned!(ty.span()=> #ty: ::tabulate::Submodules));
            quote_spanned! {ty.span()=>
                ::tabulate::Submodules::visit_named(&#access, #name, __visitor);
            }
        }
        _ => quote_spanned! {ty.span()=>
            {
                // A field that is itself a reference is borrowed once more: the probe
                // must see its type as written.
                #![allow(clippy::needless_borrow)]
                #[allow(unused_imports)]
                use ::tabulate::__private::{ViaConfig as _, ViaSubmodules as _};
                (&::tabulate::__private::FieldProbe(&#access)).visit_field(#name, __visitor);
            }
        },
    }
}

/// A field marked `#[tabulate(collection = "…")]`: its type must hold `Param`s (checked at
/// compile time, with the error at the type), and its visits declare them in `collection`.
fn in_collection(
    ty: &Type,
    collection: &syn::LitStr,
    visit: &TokenStream,
    params: &[syn::Ident],
    generics: &mut syn::Generics,
) -> TokenStream {
    if mentions(ty, params) {
        generics
            .make_where_clause()
            .predicates
            .push(parse_quote_spanned!(ty.span()=> #ty: ::tabulate::__private::ParamField));
    }
    // Spanned at the field's type, where the error for another type points.
    let check = quote_spanned! {ty.span()=>
        ::tabulate::__private::assert_param_field::<#ty>();
    };
    quote! {
        {
            #check
            let __visitor: &mut dyn ::tabulate::Visitor =
                &mut ::tabulate::__private::InCollection::new(#collection, __visitor);
            #visit
        }
    }
}

/// `ty` without the parentheses or invisible groups around it.
fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Paren(inner) => ungroup(&inner.elem),
        Type::Group(inner) => ungroup(&inner.elem),
        _ => ty,
    }
}

/// The names of the type parameters of `generics`.
pub(crate) fn type_params(generics: &syn::Generics) -> Vec<syn::Ident> {
    generics.type_params().map(|p| p.ident.clone()).collect()
}

/// Whether `ty` mentions one of the type parameters `params`.
pub(crate) fn mentions(ty: &Type, params: &[syn::Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[syn::Ident]) -> bool {
        tokens.into_iter().any(|tree| match tree {
            TokenTree::Ident(ident) => params.contains(&ident),
            TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(quote!(#ty), params)
}

/// A minimal impl emitted next to errors.
fn stub_impl(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let name = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics ::tabulate::Tabulate for #ident #ty_generics #where_clause {
            fn type_name(&self) -> &'static str {
                #name
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
    fn named_fields_are_probed() {
        let out = expand(quote!(
            struct Mlp {
                layers: Vec<Dense>,
                features: usize,
            }
        ));
        assert!(
            out.contains("fn type_name (& self) -> & 'static str { \"Mlp\" }"),
            "{out}"
        );
        assert!(
            out.contains("FieldProbe (& self . layers)) . visit_field (\"layers\""),
            "{out}"
        );
        assert!(
            out.contains("FieldProbe (& self . features)) . visit_field (\"features\""),
            "{out}"
        );
    }

    #[test]
    fn generic_fields_are_bounded() {
        let out = expand(quote!(
            struct Residual<M> {
                inner: M,
                #[tabulate(skip)]
                scale: f32,
            }
        ));
        assert!(out.contains("where M : :: tabulate :: Submodules"), "{out}");
        assert!(
            out.contains("Submodules :: visit_named (& self . inner , \"inner\""),
            "{out}"
        );
        assert!(!out.contains("scale"), "{out}");
    }

    #[test]
    fn tuple_fields_are_taken_apart() {
        let out = expand(quote!(
            struct Gate<M> {
                pair: (Dense, (Act, M)),
            }
        ));
        assert!(
            out.contains("FieldProbe (& self . pair . 0)) . visit_field (\"pair_0\""),
            "{out}"
        );
        assert!(
            out.contains("FieldProbe (& self . pair . 1 . 0)) . visit_field (\"pair_1_0\""),
            "{out}"
        );
        assert!(out.contains("where M : :: tabulate :: Submodules"), "{out}");
        assert!(
            out.contains("Submodules :: visit_named (& self . pair . 1 . 1 , \"pair_1_1\""),
            "{out}"
        );
    }

    #[test]
    fn renames_apply_to_type_and_fields() {
        let out = expand(quote!(
            #[tabulate(rename = "Block")]
            struct MyBlock {
                #[tabulate(rename = "attn")]
                attention: Attention,
            }
        ));
        assert!(out.contains("\"Block\""), "{out}");
        assert!(out.contains("visit_field (\"attn\""), "{out}");
    }

    #[test]
    fn collections_wrap_the_visitor() {
        let out = expand(quote!(
            struct Norm {
                #[tabulate(collection = "batch_stats")]
                mean: Param,
                scale: Param,
            }
        ));
        assert!(
            out.contains("assert_param_field :: < Param > () ; let __visitor : & mut dyn :: tabulate :: Visitor = & mut :: tabulate :: __private :: InCollection :: new (\"batch_stats\" , __visitor) ;"),
            "{out}"
        );
        assert!(
            out.contains("FieldProbe (& self . scale)) . visit_field (\"scale\""),
            "{out}"
        );
        assert_eq!(out.matches("InCollection").count(), 1, "{out}");
    }

    #[test]
    fn errors_come_with_a_stub() {
        let out = expand(quote!(
            #[tabulate(colour = "red")]
            struct Foo;
        ));
        assert!(
            out.contains("unknown tabulate container attribute `colour`"),
            "{out}"
        );
        assert!(
            out.contains("impl :: tabulate :: Tabulate for Foo"),
            "{out}"
        );
    }
}
