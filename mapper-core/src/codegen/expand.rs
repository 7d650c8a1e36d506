//! Code generation for the `mapper!` and `app_names!` macros (the compile-time back end).
//!
//! `mapper!`: header -> [`crate::parse::parse_tokens`] -> [`crate::check::check_program`] -> Rust code.
//! Diagnostics become `compile_error!`s spanned onto the DSL tokens they point at; task and
//! region names are checked by emitting path references into the application's `app_names!`
//! module, each spanned onto the DSL token, so a typo is an unresolved name under that token.

use proc_macro2::{Delimiter, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};

/// The parsed `mapper!` header: `[@crate PATH;] [pub] NAME [for PATH];`.
struct Header {
    krate: TokenStream,
    vis: TokenStream,
    name: Ident,
    app: Option<TokenStream>,
}

fn err(span: Span, msg: &str) -> TokenStream {
    quote_spanned! {span=> ::core::compile_error! { #msg } }
}

/// Splits off tokens up to (not including) the next top-level `;`; returns them and the rest.
fn take_until_semi(tokens: &[TokenTree]) -> Option<(&[TokenTree], &[TokenTree])> {
    let i = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))?;
    Some((&tokens[..i], &tokens[i + 1..]))
}

fn parse_header(tokens: &[TokenTree]) -> Result<(Header, &[TokenTree]), TokenStream> {
    let mut rest = tokens;
    let mut krate = quote!(::mapper_core);
    if let Some(TokenTree::Punct(p)) = rest.first() {
        if p.as_char() == '@' {
            let (k, r) =
                take_until_semi(&rest[1..]).ok_or_else(|| err(p.span(), "expected `;`"))?;
            // `@crate PATH;` (used by `runtime::mapper!` to point at its re-export)
            krate = k.iter().skip(1).cloned().collect();
            rest = r;
        }
    }
    let (head, body) = take_until_semi(rest).ok_or_else(|| {
        err(
            Span::call_site(),
            "expected a header `[pub] NAME [for APP_NAMES_PATH];` before the mapper body",
        )
    })?;
    let mut it = head.iter().peekable();
    let mut vis = TokenStream::new();
    if let Some(TokenTree::Ident(i)) = it.peek() {
        if i == "pub" {
            vis.extend([it.next().cloned().into_iter().collect::<TokenStream>()]);
            if let Some(TokenTree::Group(g)) = it.peek() {
                if g.delimiter() == Delimiter::Parenthesis {
                    vis.extend(it.next().cloned());
                }
            }
        }
    }
    let name = match it.next() {
        Some(TokenTree::Ident(i)) => i.clone(),
        Some(t) => return Err(err(t.span(), "expected the name of the mapper type")),
        None => {
            return Err(err(
                Span::call_site(),
                "expected the name of the mapper type",
            ))
        }
    };
    let app = match it.next() {
        None => None,
        Some(TokenTree::Ident(i)) if i == "for" => {
            let path: TokenStream = it.cloned().collect();
            if path.is_empty() {
                return Err(err(
                    i.span(),
                    "expected the path of an `app_names!` module after `for`",
                ));
            }
            Some(path)
        }
        Some(t) => {
            return Err(err(
                t.span(),
                "expected `for APP_NAMES_PATH` or `;` after the mapper name",
            ))
        }
    };
    Ok((
        Header {
            krate,
            vis,
            name,
            app,
        },
        body,
    ))
}

/// Expands `mapper! { HEADER; BODY }`.
pub fn expand_mapper(input: TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let (header, body) = match parse_header(&tokens) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let body: TokenStream = body.iter().cloned().collect();
    let positioned = positioned_text(body.clone());
    let parsed = crate::parse::parse_tokens(body);
    let mut diags = parsed.diagnostics;
    // The checker also runs after the parse errors that leave the program whole (an unknown
    // kind or constraint is replaced and its statement kept), so that every error is reported
    // at once; after other syntax errors it would report the holes recovery left.
    let mut checked = None;
    if diags
        .iter()
        .filter(|d| d.is_error())
        .all(is_soft_parse_error)
    {
        match crate::check::check_program(parsed.program.clone(), None) {
            Ok(c) => checked = Some(c),
            Err(d) => diags.extend(d),
        }
    }
    let spans = &parsed.token_spans;
    let span_of = |i: u32| {
        spans
            .get(i as usize)
            .copied()
            .unwrap_or_else(Span::call_site)
    };
    let mut errors = TokenStream::new();
    for d in diags.iter().filter(|d| d.is_error()) {
        let mut msg = d.message.clone();
        if let Some(h) = &d.help {
            msg.push_str("\n\nhelp: ");
            msg.push_str(h);
        }
        errors.extend(spanned_error(
            span_of(d.span.tok_lo),
            span_of(d.span.tok_hi),
            &msg,
        ));
    }
    let name_checks = header
        .app
        .as_ref()
        .map(|app| name_checks(&parsed.program, app, &span_of))
        .unwrap_or_default();
    let checked = match checked {
        Some(c) if errors.is_empty() => c,
        _ => return stub(&header, errors),
    };
    crate::expand_gen::generate(
        &header.krate,
        &header.vis,
        &header.name,
        &checked,
        name_checks,
        &positioned,
    )
}

/// The text of `body` with every token at the line and column where it was written (doc
/// comments dropped), so that parsing it again at bind time gives the same program with the
/// same positions as the macro saw. Tokens without a usable position go after the previous one.
pub fn positioned_text(body: TokenStream) -> String {
    struct Out {
        s: String,
        line: usize,
        col: usize,
        joint: bool,
    }
    impl Out {
        fn put(&mut self, at: proc_macro2::LineColumn, text: &str, joint: bool) {
            let col = at.column + 1;
            if at.line > self.line {
                for _ in self.line..at.line {
                    self.s.push('\n');
                }
                self.line = at.line;
                self.col = 1;
            }
            if at.line == self.line && col >= self.col {
                for _ in self.col..col {
                    self.s.push(' ');
                }
                self.col = col;
            } else if self.col > 1 && !self.joint {
                self.s.push(' ');
                self.col += 1;
            }
            self.joint = joint;
            for c in text.chars() {
                self.s.push(c);
                if c == '\n' {
                    self.line += 1;
                    self.col = 1;
                } else {
                    self.col += 1;
                }
            }
        }
    }
    fn walk(ts: TokenStream, out: &mut Out) {
        let trees: Vec<TokenTree> = ts.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            // `#[doc = "..."]` (a doc comment): the parser ignores it.
            if let TokenTree::Punct(p) = &trees[i] {
                if p.as_char() == '#' {
                    let mut k = i + 1;
                    if matches!(trees.get(k), Some(TokenTree::Punct(q)) if q.as_char() == '!') {
                        k += 1;
                    }
                    if let Some(TokenTree::Group(g)) = trees.get(k) {
                        if g.delimiter() == Delimiter::Bracket
                            && matches!(g.stream().into_iter().next(), Some(TokenTree::Ident(d)) if d == "doc")
                        {
                            i = k + 1;
                            continue;
                        }
                    }
                }
            }
            match &trees[i] {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    if !open.is_empty() {
                        out.put(g.span_open().start(), open, false);
                    }
                    walk(g.stream(), out);
                    if !close.is_empty() {
                        out.put(g.span_close().start(), close, false);
                    }
                }
                TokenTree::Ident(x) => out.put(x.span().start(), &x.to_string(), false),
                TokenTree::Punct(x) => out.put(
                    x.span().start(),
                    &x.as_char().to_string(),
                    x.spacing() == Spacing::Joint,
                ),
                TokenTree::Literal(x) => out.put(x.span().start(), &x.to_string(), false),
            }
            i += 1;
        }
    }
    let mut out = Out {
        s: String::new(),
        line: 1,
        col: 1,
        joint: false,
    };
    walk(body, &mut out);
    out.s.push('\n');
    out.s
}

/// True for the parse errors after which the recovered program is complete.
fn is_soft_parse_error(d: &crate::diag::Diagnostic) -> bool {
    [
        "unknown processor kind",
        "unknown memory kind",
        "unknown layout constraint",
    ]
    .iter()
    .any(|p| d.message.starts_with(p))
}

/// A `compile_error!` whose tokens start at `lo` and end at `hi`, so rustc underlines the range.
fn spanned_error(lo: Span, hi: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(lo);
    let path = quote_spanned!(lo=> ::core::compile_error!);
    let mut group = proc_macro2::Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    group.set_span(hi);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(hi);
    let mut ts = path;
    ts.extend([TokenTree::Group(group), TokenTree::Punct(semi)]);
    ts
}

/// The type emitted when the mapper has errors, so the rest of the crate still type-checks.
fn stub(h: &Header, errors: TokenStream) -> TokenStream {
    let Header {
        krate, vis, name, ..
    } = h;
    quote! {
        #errors
        /// A mapper whose definition has errors (see the compile errors above).
        #[derive(Clone, Copy, Debug, Default)]
        #vis struct #name;
        impl #name {
            /// Canonical text of the mapper (empty: the definition has errors).
            pub const SOURCE: &'static str = "";
        }
        impl #krate::Mapper for #name {
            fn name(&self) -> &str { stringify!(#name) }
            fn bind(&self, _: &#krate::AppInfo, _: &#krate::MachineShape)
                -> ::core::result::Result<::std::boxed::Box<dyn #krate::BoundMapper>, ::std::vec::Vec<#krate::Diagnostic>> {
                ::core::result::Result::Err(::std::vec::Vec::new())
            }
        }
    }
}

/// Path references `APP::task::region` for every task and region name the mapper uses, each
/// spanned onto the DSL token that names it.
fn name_checks(
    p: &crate::ast::Program,
    app: &TokenStream,
    span_of: &dyn Fn(u32) -> Span,
) -> TokenStream {
    use crate::ast::{RegionSel, Stmt, TaskNames, TaskSel};
    let mut refs = TokenStream::new();
    // `use APP::task;` checks the task name (an unresolved import gets rustc's "a similar name
    // exists" help, and paths through a failed import report nothing more), then the region
    // is a constant of that task's module. Without a task, regions are checked against `__any`.
    let mut push = |task: Option<&crate::span::Ident>, region: Option<&crate::span::Ident>| match (
        task, region,
    ) {
        (Some(t), r) => {
            let sp = span_of(t.span.tok_lo);
            let app: TokenStream = respan(app.clone(), sp);
            let ti = Ident::new(&t.node, sp);
            let region_ref = r.map(|r| {
                let ri = Ident::new(&r.node, span_of(r.span.tok_lo));
                quote!(let _: () = #ti::#ri;)
            });
            refs.extend(quote! { { use #app::#ti; #region_ref } });
        }
        (None, Some(r)) => {
            let ri = Ident::new(&r.node, span_of(r.span.tok_lo));
            refs.extend(quote! { let _: () = #app::__any::#ri; });
        }
        (None, None) => {}
    };
    let task_of = |t: &TaskSel| match t {
        TaskSel::Named(n) => Some(n.clone()),
        TaskSel::Any(_) => None,
    };
    for s in &p.stmts {
        match s {
            Stmt::Task {
                tasks: TaskNames::List(ts),
                ..
            }
            | Stmt::IndexTaskMap {
                tasks: TaskNames::List(ts),
                ..
            }
            | Stmt::SingleTaskMap {
                tasks: TaskNames::List(ts),
                ..
            }
            | Stmt::ControlReplicate {
                tasks: TaskNames::List(ts),
                ..
            } => {
                for t in ts {
                    push(Some(t), None);
                }
            }
            Stmt::Region { task, region, .. }
            | Stmt::Layout { task, region, .. }
            | Stmt::CollectMemory { task, region, .. } => {
                let t = task_of(task);
                if let Some(t) = &t {
                    push(Some(t), None);
                }
                if let RegionSel::Named(r) = region {
                    push(t.as_ref(), Some(r));
                }
            }
            Stmt::InstanceLimit { task, .. } => {
                if let Some(t) = task_of(task) {
                    push(Some(&t), None);
                }
            }
            _ => {}
        }
    }
    if refs.is_empty() {
        return refs;
    }
    quote! {
        #[allow(non_upper_case_globals, unused_imports, clippy::let_unit_value)]
        const _: () = { #refs };
    }
}

/// `ts` with every token (recursively) given span `sp`.
fn respan(ts: TokenStream, sp: Span) -> TokenStream {
    ts.into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), sp));
                ng.set_span(sp);
                t = TokenTree::Group(ng);
            } else {
                t.set_span(sp);
            }
            t
        })
        .collect()
}

/// Expands `app_names! { [#[attrs]] VIS mod NAME { TASK(ARG: [REGION, ...], ...); ... } }`.
pub fn expand_app_names(input: TokenStream) -> TokenStream {
    match app_names_inner(input) {
        Ok(ts) => ts,
        Err((span, msg)) => err(span, &msg),
    }
}

type AppTask = (Ident, Vec<(Ident, Vec<Ident>)>);

fn app_names_inner(input: TokenStream) -> Result<TokenStream, (Span, String)> {
    let tokens: Vec<TokenTree> = input.into_iter().collect();
    let pos = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "mod"))
        .ok_or((Span::call_site(), "expected `mod NAME { ... }`".to_string()))?;
    let prefix: TokenStream = tokens[..pos].iter().cloned().collect();
    let name = match tokens.get(pos + 1) {
        Some(TokenTree::Ident(i)) => i.clone(),
        _ => {
            return Err((
                tokens[pos].span(),
                "expected a module name after `mod`".into(),
            ))
        }
    };
    let body = match tokens.get(pos + 2) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.stream(),
        _ => {
            return Err((
                name.span(),
                "expected `{ ... }` after the module name".into(),
            ))
        }
    };
    let mut tasks: Vec<AppTask> = Vec::new();
    let body: Vec<TokenTree> = body.into_iter().collect();
    let mut rest = &body[..];
    while !rest.is_empty() {
        let (decl, r) = take_until_semi(rest).unwrap_or((rest, &[]));
        rest = r;
        let (tname, args) = match decl {
            [TokenTree::Ident(t), TokenTree::Group(g)]
                if g.delimiter() == Delimiter::Parenthesis =>
            {
                (t, g)
            }
            [t, ..] => return Err((t.span(), "expected `TASK(ARG: [REGION, ...], ...);`".into())),
            [] => continue,
        };
        let mut parsed_args = Vec::new();
        let toks: Vec<TokenTree> = args.stream().into_iter().collect();
        for chunk in toks.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
            match chunk {
                [] => {}
                [TokenTree::Ident(a)] => parsed_args.push((a.clone(), Vec::new())),
                [TokenTree::Ident(a), TokenTree::Punct(c), TokenTree::Group(g)]
                    if c.as_char() == ':' && g.delimiter() == Delimiter::Bracket =>
                {
                    let regions = g
                        .stream()
                        .into_iter()
                        .filter_map(|t| match t {
                            TokenTree::Ident(i) => Some(Ok(i)),
                            TokenTree::Punct(p) if p.as_char() == ',' => None,
                            other => {
                                Some(Err((other.span(), "expected a region name".to_string())))
                            }
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    parsed_args.push((a.clone(), regions));
                }
                [t, ..] => return Err((t.span(), "expected `ARG` or `ARG: [REGION, ...]`".into())),
            }
        }
        tasks.push((tname.clone(), parsed_args));
    }
    let mut all: Vec<Ident> = Vec::new();
    let mut modules = TokenStream::new();
    let mut table = TokenStream::new();
    for (t, args) in &tasks {
        let mut names: Vec<Ident> = Vec::new();
        let mut rows = TokenStream::new();
        for (a, regions) in args {
            for n in std::iter::once(a).chain(regions) {
                if !names.iter().any(|x| x == n) {
                    names.push(n.clone());
                }
                if !all.iter().any(|x| x == n) {
                    all.push(n.clone());
                }
            }
            let (an, rs) = (a.to_string(), regions.iter().map(|r| r.to_string()));
            rows.extend(quote! { (#an, &[#(#rs),*]), });
        }
        let tn = t.to_string();
        let doc = format!("Task `{tn}`: its argument and region names.");
        modules.extend(quote! {
            #[doc = #doc]
            pub mod #t {
                /// Marks that the task exists.
                pub const __task: () = ();
                #(#[doc = "A region or argument name."] pub const #names: () = ();)*
            }
        });
        table.extend(quote! { (#tn, &[#rows]), });
    }
    Ok(quote! {
        #prefix mod #name {
            #![allow(non_upper_case_globals, non_snake_case, dead_code, missing_docs)]
            #modules
            /// Every region or argument name of any task.
            pub mod __any {
                #(#[doc = "A region or argument name."] pub const #all: () = ();)*
            }
            /// Tasks with their arguments and the region names each argument is launched with.
            pub const TASKS: &[(&str, &[(&str, &[&str])])] = &[#table];
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn expand(src: &str) -> String {
        expand_mapper(TokenStream::from_str(src).expect("tokens")).to_string()
    }

    #[test]
    fn positioned_text_keeps_lines_and_columns() {
        let body = "Task * GPU,CPU;\n  mgpu = Machine(GPU);\n\n    def f(Task t) { return mgpu[0, t.ipoint[0] == 1 ? 1 : 0]; }";
        let text = positioned_text(TokenStream::from_str(body).unwrap());
        assert_eq!(text.trim_end(), body);
        // Both parses give the same program with the same positions.
        let a = crate::parse::parse_tokens(TokenStream::from_str(body).unwrap());
        let b = crate::parse::parse_text(&text);
        assert_eq!(a.program, b.program);
        let pos = |o: &crate::parse::ParseOutput| match &o.program.stmts[2] {
            crate::ast::Stmt::Def(f) => (f.span.lo, f.name.span.lo),
            _ => unreachable!("a def"),
        };
        assert_eq!(pos(&a), pos(&b));
        // Doc comments are dropped.
        let text = positioned_text(TokenStream::from_str("/// doc\nTask * GPU;").unwrap());
        assert_eq!(text, "\nTask * GPU;\n");
    }

    #[test]
    fn errors_become_spanned_compile_errors_and_a_stub() {
        let out = expand("pub M; Region * * GPU FBMEN; def f(Task t) { return x; }");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unknown memory kind `FBMEN`"), "{out}");
        assert!(out.contains("help: did you mean `FBMEM`?"), "{out}");
        // The checker ran too (the kind error leaves the program whole).
        assert!(out.contains("x is not defined"), "{out}");
        // The stub type.
        assert!(out.contains("pub struct M"), "{out}");
        assert!(out.contains("SOURCE : & 'static str = \"\""), "{out}");
        assert!(!out.contains("__POSITIONED"), "{out}");
    }

    #[test]
    fn hard_syntax_errors_skip_the_checker() {
        let out = expand("M; def f(Task t) return x; IndexTaskMap * f;");
        assert!(
            out.contains("expected `{` after function parameters"),
            "{out}"
        );
        assert!(!out.contains("is not defined"), "{out}");
    }

    #[test]
    fn header_errors() {
        assert!(expand("Task * GPU;").contains("expected `for APP_NAMES_PATH` or `;`"));
        assert!(expand("pub 3;").contains("expected the name of the mapper type"));
        assert!(expand("pub M for;").contains("expected the path of an `app_names!` module"));
        assert!(expand("pub M").contains("expected a header"));
    }

    #[test]
    fn crate_path_and_visibility() {
        let out = expand("@crate ::runtime::__private::core; pub(crate) M; Task * CPU;");
        assert!(out.contains("pub (crate) struct M"), "{out}");
        assert!(
            out.contains("impl :: runtime :: __private :: core :: Mapper for M"),
            "{out}"
        );
        assert!(
            out.contains("SOURCE : & 'static str = \"Task * CPU;\\n\""),
            "{out}"
        );
    }

    #[test]
    fn name_checks_reference_the_app_module() {
        let out =
            expand("M for app; Region gemm a_tiles GPU FBMEM; CollectMemory * b; Task shift GPU;");
        assert!(
            out.contains("use app :: gemm ; let _ : () = gemm :: a_tiles ;"),
            "{out}"
        );
        assert!(out.contains("let _ : () = app :: __any :: b ;"), "{out}");
        assert!(out.contains("use app :: shift ;"), "{out}");
        // Without `for`, nothing refers to an application.
        assert!(!expand("M; Task shift GPU;").contains("use "));
    }

    #[test]
    fn app_names_module() {
        let out = expand_app_names(
            TokenStream::from_str("pub mod names { gemm(a: [a_tiles, a], b); init(); }").unwrap(),
        )
        .to_string();
        assert!(out.contains("pub mod names"), "{out}");
        assert!(out.contains("pub mod gemm"), "{out}");
        assert!(out.contains("pub const a_tiles : () = ()"), "{out}");
        assert!(out.contains("pub mod __any"), "{out}");
        assert!(
            out.contains("(\"gemm\" , & [(\"a\" , & [\"a_tiles\" , \"a\"]) , (\"b\" , & []) ,]) ,"),
            "{out}"
        );
        let bad =
            expand_app_names(TokenStream::from_str("mod names { gemm(a: a_tiles); }").unwrap());
        assert!(bad
            .to_string()
            .contains("expected `ARG` or `ARG: [REGION, ...]`"));
    }
}
