//! `#[forward]`: records a method call of a module while a summary runs, and, on the
//! method named `forward`, adds a `summary` method taking the same arguments.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItemFn, Pat, ReturnType, Type};

use crate::ctxt::Ctxt;

/// Options of the attribute: `#[forward]` or `#[forward(no_summary)]`.
#[derive(Default)]
struct Options {
    no_summary: bool,
}

/// One argument of the method.
struct Arg {
    ident: syn::Ident,
    ty: Type,
    keyword: bool,
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut function: ImplItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => return not_a_method(item, &error).into_compile_error(),
    };
    // Always strip our argument attributes, so an error does not add "unknown attribute".
    let keyword_flags = strip_keyword_attrs(&mut function);
    match try_expand(args, &function, &keyword_flags) {
        Ok(expanded) => expanded,
        Err(error) => {
            let error = error.into_compile_error();
            quote!(#error #function)
        }
    }
}

/// The one error for `#[forward]` on something that is not a method with a body: the item
/// as it is, in its words, or syn's error when it is not even an item.
fn not_a_method(item: TokenStream, error: &syn::Error) -> syn::Error {
    if let Ok(method) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        return syn::Error::new_spanned(
            &method.sig,
            "`#[forward]` goes on the method in each `impl` block, not on its declaration in a trait (in a trait impl, write `#[forward(no_summary)]`)",
        );
    }
    let what = match syn::parse2::<syn::Item>(item) {
        Ok(syn::Item::Fn(function)) => {
            return syn::Error::new_spanned(
                &function.sig,
                format!(
                    "`#[forward]` goes on a method of a module that takes `&self`; `{}` has no `self` parameter",
                    function.sig.ident
                ),
            );
        }
        Ok(syn::Item::Struct(item)) => (item.struct_token.span, "a struct"),
        Ok(syn::Item::Enum(item)) => (item.enum_token.span, "an enum"),
        Ok(syn::Item::Impl(item)) => (
            item.impl_token.span,
            "an impl block; put it on a method inside",
        ),
        Ok(syn::Item::Trait(item)) => (item.trait_token.span, "a trait"),
        Ok(syn::Item::Mod(item)) => (item.mod_token.span, "a module"),
        _ => (error.span(), "not a method"),
    };
    syn::Error::new(
        what.0,
        format!(
            "`#[forward]` goes on a method of a module that takes `&self`; this is {}",
            what.1
        ),
    )
}

fn try_expand(
    args: TokenStream,
    function: &ImplItemFn,
    keywords: &[bool],
) -> syn::Result<TokenStream> {
    let cx = Ctxt::default();
    let options = parse_options(&cx, args);
    let arguments = check_signature(&cx, function, keywords);
    cx.check()?;
    let recorded = record_call(function, &arguments);
    let summary = (function.sig.ident == "forward" && !options.no_summary)
        .then(|| summary_method(function, &arguments));
    Ok(quote!(#recorded #summary))
}

fn parse_options(cx: &Ctxt, args: TokenStream) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("no_summary") {
            if !meta.input.is_empty() && !meta.input.peek(syn::Token![,]) {
                return Err(
                    meta.error("`no_summary` takes no value: write `#[forward(no_summary)]`")
                );
            }
            if options.no_summary {
                return Err(meta.error("duplicate forward option `no_summary`"));
            }
            options.no_summary = true;
            Ok(())
        } else {
            let key = meta
                .path
                .get_ident()
                .map_or_else(|| "?".to_string(), ToString::to_string);
            Err(meta.error(format_args!(
                "unknown forward option `{key}`; the only option is `no_summary`"
            )))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        cx.syn_error(error);
    }
    options
}

/// Removes `#[kwarg]` from the arguments, returning which had it.
fn strip_keyword_attrs(function: &mut ImplItemFn) -> Vec<bool> {
    function
        .sig
        .inputs
        .iter_mut()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(typed),
            FnArg::Receiver(_) => None,
        })
        .map(|typed| {
            let before = typed.attrs.len();
            typed.attrs.retain(|a| !a.path().is_ident("kwarg"));
            typed.attrs.len() != before
        })
        .collect()
}

/// Checks the method's shape and returns its arguments.
fn check_signature(cx: &Ctxt, function: &ImplItemFn, keywords: &[bool]) -> Vec<Arg> {
    let sig = &function.sig;
    let name = &sig.ident;
    match sig.receiver() {
        None => cx.error_spanned_by(
            sig,
            format!("`#[forward]` goes on a method of a module that takes `&self`; `{name}` has no `self` parameter"),
        ),
        Some(receiver) => {
            if !matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None)) {
                cx.error_spanned_by(receiver, "`#[forward]` methods must take `&self`");
            }
        }
    }
    // A summary runs the method once, synchronously, at run time, and records the call
    // from inside its body: none of these qualifiers can hold that.
    if let Some(constness) = &sig.constness {
        cx.error_spanned_by(
            constness,
            "`#[forward]` cannot go on a `const fn`: calls are recorded at run time; remove `const`",
        );
    }
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(
            asyncness,
            "`#[forward]` cannot go on an `async fn`: a summary calls `forward` synchronously; remove `async`",
        );
    }
    if let syn::Safety::Unsafe(unsafety) = &sig.safety {
        cx.error_spanned_by(
            unsafety,
            "`#[forward]` cannot go on an `unsafe fn`: write a safe method and put the unsafe code in an `unsafe` block inside it",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "`#[forward]` cannot go on an `extern` method; remove the ABI",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "`#[forward]` does not support variadic methods");
    }
    let mut arguments = Vec::new();
    let typed = sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Typed(typed) => Some(typed),
        FnArg::Receiver(_) => None,
    });
    for (typed, &keyword) in typed.zip(keywords) {
        match &*typed.pat {
            Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() => arguments.push(Arg {
                ident: pat.ident.clone(),
                ty: (*typed.ty).clone(),
                keyword,
            }),
            other => cx.error_spanned_by(
                other,
                "`#[forward]` needs a plain name for every argument, to show it in the inputs column",
            ),
        }
    }
    arguments
}

/// Whether the closure holding the body can name the return type: not when it holds
/// `impl Trait`, a reference (`&Tensor`), or an elided lifetime (`Out<'_>`), which a
/// closure signature cannot spell; the closure then infers it.
fn nameable(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        let mut after_quote = false;
        tokens.into_iter().all(|tree| {
            let ok = match &tree {
                TokenTree::Ident(ident) => ident != "impl" && !(after_quote && ident == "_"),
                TokenTree::Punct(punct) => punct.as_char() != '&',
                TokenTree::Group(group) => walk(group.stream()),
                TokenTree::Literal(_) => true,
            };
            after_quote = matches!(&tree, TokenTree::Punct(p) if p.as_char() == '\'');
            ok
        })
    }
    walk(quote!(#ty))
}

fn record_call(function: &ImplItemFn, arguments: &[Arg]) -> TokenStream {
    let ImplItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let method = sig.ident.to_string();
    let method = method.strip_prefix("r#").unwrap_or(&method);
    let describe = arguments.iter().map(|arg| {
        let ident = &arg.ident;
        if arg.keyword {
            let key = ident.to_string();
            quote_spanned!(arg.ty.span()=> __tabulate_args.keyword(#key, &#ident);)
        } else {
            quote_spanned!(arg.ty.span()=> __tabulate_args.positional(&#ident);)
        }
    });
    let closure_ret = match &sig.output {
        ReturnType::Type(_, ty) if nameable(ty) => quote!(-> #ty),
        _ => quote!(),
    };
    let self_token = quote_spanned!(sig.ident.span()=> self);
    // A result type that cannot be shown is reported at the return type.
    let output_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let exit = quote_spanned!(output_span=> __tabulate_call.exit(&__tabulate_result););
    quote! {
        #(#attrs)*
        #vis #sig {
            // Describing `_x` reads it: that is the point, not a mistake.
            #[allow(clippy::used_underscore_binding)]
            let __tabulate_call = ::tabulate::__private::enter_call(
                #self_token,
                #method,
                |__tabulate_args: &mut ::tabulate::CallArgs| {
                    #(#describe)*
                },
            );
            // Called as `FnOnce`, so the body may return references into `self`.
            let __tabulate_result = ::tabulate::__private::call_once(move || #closure_ret #block);
            #exit
            __tabulate_result
        }
    }
}

/// `fn summary(&self, <forward's arguments>) -> tabulate::Result<tabulate::Summary>`.
///
/// Inside a trait impl, where it cannot go, a hidden constant before it makes rustc's first
/// error say what to write instead ("const `in_a_trait_impl_write_forward_no_summary` is not
/// a member of trait"); both errors point at the `#[forward]` attribute. A type that is not a module makes it pick a fallback, so the one
/// error the user sees is the `forward` method's.
fn summary_method(function: &ImplItemFn, arguments: &[Arg]) -> TokenStream {
    let vis = &function.vis;
    let generics = &function.sig.generics;
    let where_clause = &generics.where_clause;
    let params = arguments.iter().map(|arg| {
        let (ident, ty) = (&arg.ident, &arg.ty);
        quote!(#ident: #ty)
    });
    let names = arguments.iter().map(|arg| &arg.ident);
    let summary = format_ident!("summary", span = Span::call_site());
    let hint = format_ident!(
        "in_a_trait_impl_write_forward_no_summary",
        span = Span::call_site()
    );
    quote! {
        #[doc(hidden)]
        #[allow(non_upper_case_globals, dead_code)]
        const #hint: () = ();

        /// Summarises a call of [`Self::forward`] with these arguments, with the default
        /// options (see `tabulate::tabulate` for the others).
        #[allow(clippy::used_underscore_binding)]
        #vis fn #summary #generics (&self, #(#params),*) -> ::tabulate::Result<::tabulate::Summary> #where_clause {
            #[allow(unused_imports)]
            use ::tabulate::__private::{ViaModule as _, ViaNotModule as _};
            // The closure calls `self`, not its argument (the same module), so that a
            // result borrowed from `self` may leave it.
            (&::tabulate::__private::SummaryProbe(self)).summarise(move |_| self.forward(#(#names),*))
        }

    }
}
