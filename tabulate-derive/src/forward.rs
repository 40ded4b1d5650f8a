//! `#[forward]`: records a method call of a module while a summary runs, and, on the
//! method named `forward`, adds a `summary` method taking the same arguments.

use proc_macro2::TokenStream;
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
    let mut function: ImplItemFn = match syn::parse2(item) {
        Ok(function) => function,
        Err(error) => {
            let mut error = error;
            error.combine(syn::Error::new(
                error.span(),
                "`#[forward]` goes on a method of a module that takes `&self`",
            ));
            return error.into_compile_error();
        }
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
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(asyncness, "`#[forward]` does not support async methods");
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

/// Whether the closure holding the body can name the return type.
fn nameable(ty: &Type) -> bool {
    let text = quote!(#ty).to_string();
    !text.contains("impl") && !text.contains('&')
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
            #[allow(clippy::redundant_closure_call)]
            let __tabulate_result = (move || #closure_ret #block)();
            __tabulate_call.exit(&__tabulate_result);
            __tabulate_result
        }
    }
}

/// `fn summary(&self, <forward's arguments>) -> tabulate::Result<tabulate::Summary>`.
fn summary_method(function: &ImplItemFn, arguments: &[Arg]) -> TokenStream {
    let vis = &function.vis;
    let generics = &function.sig.generics;
    let where_clause = &generics.where_clause;
    let params = arguments.iter().map(|arg| {
        let (ident, ty) = (&arg.ident, &arg.ty);
        quote!(#ident: #ty)
    });
    let names = arguments.iter().map(|arg| &arg.ident);
    let module = format_ident!("__tabulate_module");
    quote! {
        /// Summarises a call of [`Self::forward`] with these arguments, with the default
        /// options (see `tabulate::tabulate` for the others).
        #[allow(clippy::used_underscore_binding)]
        #vis fn summary #generics (&self, #(#params),*) -> ::tabulate::Result<::tabulate::Summary> #where_clause {
            ::tabulate::tabulate(self).run(move |#module| #module.forward(#(#names),*))
        }
    }
}
