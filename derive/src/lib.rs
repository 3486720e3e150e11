//! `#[derive(Module)]` for ferrograd: the visitor of a struct model, generated from its
//! fields, so that no field's parameters can be forgotten. Use it through
//! `ferrograd_nn::Module` (or `ferrograd::prelude`), where its documentation and examples
//! live.

use proc_macro::TokenStream;
use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream as Tokens};
use quote::{format_ident, quote};
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, Index, PathArguments, Type,
    parse_macro_input,
};

/// Implements `Module` for a struct whose inherent `forward` method does the computation:
/// `visit` walks every field under its name (see `ferrograd_nn::Module` for the rules and
/// an example).
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// What a field is to the visitor.
enum Kind {
    Skip,
    Param,
    Buffer,
    Mode,
    Rng,
    Child,
}

/// The struct's own `#[module(...)]` options.
#[derive(Default)]
struct StructAttrs {
    /// `crate = path`: where the generated impl finds ferrograd-nn.
    krate: Option<syn::Path>,
    /// `float = f32|f64`: the float type of a struct without a `Float` parameter.
    float: Option<Type>,
    /// `inputs = N`: the inherent `forward` takes N inputs (`Module::forward_inputs`).
    inputs: Option<usize>,
}

impl StructAttrs {
    fn parse(input: &DeriveInput) -> syn::Result<Self> {
        let mut attrs = StructAttrs::default();
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    attrs.krate = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("float") {
                    attrs.float = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("inputs") {
                    let n: syn::LitInt = meta.value()?.parse()?;
                    let n = n.base10_parse::<usize>()?;
                    if n == 0 {
                        return Err(meta.error("`inputs` must be at least 1"));
                    }
                    attrs.inputs = Some(n);
                } else {
                    return Err(
                        meta.error("expected `crate = path`, `float = f32|f64` or `inputs = N`")
                    );
                }
                Ok(())
            })?;
        }
        Ok(attrs)
    }

    /// The crate path to generate: the user's choice, else `::ferrograd_nn` or
    /// `::ferrograd::nn`, whichever the user's Cargo.toml depends on.
    fn nn_path(&self) -> Tokens {
        if let Some(path) = &self.krate {
            return quote!(#path);
        }
        match crate_name("ferrograd-nn") {
            // Inside ferrograd-nn (which declares `extern crate self as ferrograd_nn`).
            Ok(FoundCrate::Itself) => quote!(::ferrograd_nn),
            Ok(FoundCrate::Name(name)) => {
                let name = Ident::new(&name, Span::call_site());
                quote!(::#name)
            }
            Err(_) => match crate_name("ferrograd") {
                Ok(FoundCrate::Name(name)) => {
                    let name = Ident::new(&name, Span::call_site());
                    quote!(::#name::nn)
                }
                _ => quote!(::ferrograd::nn),
            },
        }
    }
}

/// The kind a field's `#[module(...)]` attribute gives, if any.
fn field_attr(field: &syn::Field) -> syn::Result<Option<Kind>> {
    let mut kind = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            kind = Some(if meta.path.is_ident("skip") {
                Kind::Skip
            } else if meta.path.is_ident("buffer") {
                Kind::Buffer
            } else if meta.path.is_ident("param") {
                Kind::Param
            } else {
                return Err(meta.error("expected `skip`, `param` or `buffer`"));
            });
            Ok(())
        })?;
    }
    Ok(kind)
}

/// The last path segment of a type (`Param` of `ferrograd::autograd::Param<f32>`).
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// The type argument of `Vec<X>` / `Option<X>` when `ty` is that container.
fn inner<'a>(ty: &'a Type, container: &str) -> Option<&'a Type> {
    let seg = last_segment(ty).filter(|s| s.ident == container)?;
    match &seg.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// A field's kind from its type's name: `Param`, `Mode`, `LayerRng`, else a child module.
fn kind_of(ty: &Type) -> Kind {
    match last_segment(ty).map(|s| s.ident.to_string()).as_deref() {
        Some("Param") => Kind::Param,
        Some("Mode") => Kind::Mode,
        Some("LayerRng") => Kind::Rng,
        _ => Kind::Child,
    }
}

/// The statement visiting `value` (an expression of type `&X`) under `name` (a `&str`
/// expression).
fn visit_one(nn: &Tokens, kind: &Kind, value: Tokens, name: Tokens) -> Tokens {
    match kind {
        Kind::Skip => quote!(),
        Kind::Param => quote!(f(#name, #nn::Slot::Param(#value));),
        Kind::Buffer => quote!(f(#name, #nn::Slot::Buffer(#value));),
        Kind::Mode => quote!(f(#name, #nn::Slot::Mode(#value));),
        Kind::Rng => quote!(f(#name, #nn::Slot::Rng(#value));),
        Kind::Child => quote!(#nn::visit_child(#name, #value, f);),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Module)] works on structs; implement Module by hand for an enum",
        ));
    };
    let attrs = StructAttrs::parse(input)?;
    let nn = attrs.nn_path();
    let mut body = Vec::new();
    let fields: Vec<(Tokens, String, &syn::Field)> = match &data.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let id = f.ident.as_ref().expect("named");
                (quote!(#id), id.to_string(), f)
            })
            .collect(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = Index::from(i);
                (quote!(#index), i.to_string(), f)
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };
    for (access, name, field) in fields {
        let explicit = field_attr(field)?;
        if matches!(explicit, Some(Kind::Skip)) {
            continue;
        }
        let ty = &field.ty;
        if let Some(elem) = inner(ty, "Vec") {
            let kind = explicit.unwrap_or_else(|| kind_of(elem));
            let item = format_ident!("item");
            let stmt = visit_one(
                &nn,
                &kind,
                quote!(#item),
                quote!(&format!("{}.{}", #name, i)),
            );
            body.push(quote! {
                for (i, #item) in self.#access.iter().enumerate() { #stmt }
            });
        } else if let Some(elem) = inner(ty, "Option") {
            let kind = explicit.unwrap_or_else(|| kind_of(elem));
            let stmt = visit_one(&nn, &kind, quote!(value), quote!(#name));
            body.push(quote! {
                if let Some(value) = &self.#access { #stmt }
            });
        } else {
            let kind = explicit.unwrap_or_else(|| kind_of(ty));
            body.push(visit_one(&nn, &kind, quote!(&self.#access), quote!(#name)));
        }
    }

    // The float type: the struct's type parameter bounded by Float, `#[module(float = …)]`,
    // or f32.
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let float_param = input.generics.type_params().find(|p| {
        p.bounds.iter().any(|b| match b {
            syn::TypeParamBound::Trait(t) => {
                t.path.segments.last().is_some_and(|s| s.ident == "Float")
            }
            _ => false,
        })
    });
    let float: Tokens = match (attrs.float, float_param) {
        (Some(t), _) => quote!(#t),
        (None, Some(p)) => {
            let id = &p.ident;
            quote!(#id)
        }
        (None, None) => quote!(f32),
    };
    let autograd = quote!(#nn::__autograd);
    let forward = match attrs.inputs.unwrap_or(1) {
        1 => quote! {
            fn forward<'g>(&self, x: #autograd::Var<'g, #float>) -> #autograd::Var<'g, #float> {
                // The struct's inherent `forward`: inherent functions take precedence. Without
                // one, this trait's `forward` makes the call ambiguous or ill-typed, a compile
                // error naming it, instead of `Module::forward` calling itself forever.
                #[allow(dead_code, non_camel_case_types)]
                trait derive_Module_needs_an_inherent_forward_method {
                    fn forward(&self, _: ());
                }
                impl #impl_generics derive_Module_needs_an_inherent_forward_method for #ident #ty_generics #where_clause {
                    fn forward(&self, _: ()) {}
                }
                Self::forward(self, x)
            }
        },
        n => {
            // The inherent `forward` takes n inputs; `Self::forward` resolves to it (the
            // trait's takes one, so without it the call does not compile).
            let args: Vec<Ident> = (0..n).map(|i| format_ident!("input{}", i)).collect();
            quote! {
                #[track_caller]
                fn forward<'g>(&self, _: #autograd::Var<'g, #float>) -> #autograd::Var<'g, #float> {
                    panic!(
                        "{}: forward takes {} inputs, got one; call Module::forward_inputs",
                        #nn::Module::<#float>::name(self),
                        #n
                    )
                }

                #[track_caller]
                fn forward_inputs<'g>(&self, inputs: &[#autograd::Var<'g, #float>]) -> #autograd::Var<'g, #float> {
                    match inputs {
                        [#(#args),*] => Self::forward(self, #(*#args),*),
                        _ => panic!(
                            "{}: forward takes {} inputs, the batch has {}",
                            #nn::Module::<#float>::name(self),
                            #n,
                            inputs.len()
                        ),
                    }
                }
            }
        }
    };
    Ok(quote! {
        impl #impl_generics #nn::Module<#float> for #ident #ty_generics #where_clause {
            #forward

            fn visit(&self, f: &mut dyn FnMut(&str, #nn::Slot<'_, #float>)) {
                #(#body)*
            }
        }
    })
}
