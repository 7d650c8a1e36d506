//! Unit tests of the code generator.

use super::*;

#[path = "../../../corpus/experts.rs"]
mod experts;

/// The generated code of `body` (a mapper without errors).
fn gen(body: &str) -> String {
    let out = crate::parse::parse_text(body);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    generate(
        &quote!(::mapper_core),
        &TokenStream::new(),
        &format_ident!("M"),
        &crate::check::check_program(out.program, None).expect("checks"),
        TokenStream::new(),
        body,
    )
    .to_string()
}

/// The generated body function of function `id`.
fn body_fn(code: &str, id: usize) -> &str {
    let start = code
        .find(&format!("fn __b{id} "))
        .unwrap_or_else(|| panic!("no __b{id} in {code}"));
    let end = code[start..]
        .find(&format!("fn __f{id} "))
        .map_or(code.len(), |e| start + e);
    &code[start..end]
}

#[test]
fn join_is_the_least_upper_bound() {
    assert_eq!(join(T::Bot, T::Int), T::Int);
    assert_eq!(join(T::TupN(2), T::TupN(2)), T::TupN(2));
    assert_eq!(join(T::TupN(2), T::TupN(3)), T::Tup);
    assert_eq!(join(T::Tup, T::TupN(3)), T::Tup);
    assert_eq!(join(T::Int, T::Bool), T::Val);
    assert_eq!(join(T::Space, T::Val), T::Val);
}

#[test]
fn typed_placement_functions_have_no_dynamic_values() {
    // Placement functions in the style of an expert mapper: a comprehension over a tuple and
    // a machine-space transform (COSMA's expert used these before it became owner-computes).
    let code = gen("Task * GPU,CPU;\n\
                    m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);\n\
                    mflat = m.merge(0, 1);\n\
                    def cosma3d(Task task) {\n\
                        ip = task.ipoint;\n\
                        is = task.ispace;\n\
                        g = mflat.auto_split(0, is);\n\
                        cell = tuple(ip[i] * g.size[i] / is[i] for i in (0, 1, 2));\n\
                        return g[*cell];\n\
                    }\n\
                    def cosma2d(Task task) {\n\
                        ip = task.ipoint;\n\
                        return m[ip[0] % m.size[0], ip[1] % m.size[1]];\n\
                    }\n\
                    IndexTaskMap cosma_gemm cosma3d;\n\
                    IndexTaskMap init_tiles cosma2d;\n");
    for id in 0..2 {
        let f = body_fn(&code, id);
        assert!(
            f.contains("-> :: mapper_core :: ops :: R < :: mapper_core :: Placement >"),
            "{f}"
        );
        assert!(!f.contains("eval :: Value"), "{f}");
        assert!(!f.contains("ops :: binary"), "{f}");
    }
    // The comprehension over `(0, 1, 2)` is unrolled into a 3-element array.
    assert!(body_fn(&code, 0).contains("[i64 ; 3usize]"));
    // The transform goes through a call-site cache.
    assert!(body_fn(&code, 0).contains("apply_site"));
}

#[test]
fn function_types_are_the_checkers() {
    let code = gen("def fact(int n) { return n <= 1 ? 1 : n * fact(n - 1); }\n\
                        def pair(int n) { return (n, fact(n)); }\n\
                        def odd(int n) { return n > 0 ? odd(n - 1) : (n, n); }\n\
                        def sq(int n) { return n * n; }\n");
    // A result that depends on a recursive call is not known to the checker: a `Value`.
    assert!(body_fn(&code, 0)
        .contains("-> :: mapper_core :: ops :: R < :: mapper_core :: eval :: Value >"));
    assert!(body_fn(&code, 1).contains("R < [i64 ; 2usize] >"));
    assert!(body_fn(&code, 2).contains("R < :: mapper_core :: eval :: Value >"));
    assert!(body_fn(&code, 3).contains("-> :: mapper_core :: ops :: R < i64 >"));
}

#[test]
fn dynamic_types_fall_back_to_values() {
    let code = gen("def either(bool b, int x) { return b ? x : (x, x); }\n\
                        def f(Task task) { v = either(True, 1); return v; }\n");
    assert!(body_fn(&code, 0).contains("R < :: mapper_core :: eval :: Value >"));
    // A placement function returning a dynamic value is checked when it returns.
    assert!(code.contains("not_a_processor"));
}

#[test]
fn globals_are_typed_fields() {
    let code = gen("mgpu = Machine(GPU);\nn = mgpu.volume;\nt = (1, 2);\nb = n > 1;\n");
    let g = &code[code.find("struct __G").expect("globals")..];
    let g = &g[..g.find('}').expect("end")];
    assert!(
        g.contains("__g0 : :: std :: sync :: Arc < :: mapper_core :: space :: Space >"),
        "{g}"
    );
    assert!(g.contains("__g1 : i64"), "{g}");
    assert!(g.contains("__g2 : [i64 ; 2usize]"), "{g}");
    assert!(g.contains("__g3 : bool"), "{g}");
}

#[test]
fn canonical_source_constant() {
    let code = gen("Task * GPU , CPU ;\n");
    let lit = Literal::string("Task * GPU,CPU;\n").to_string();
    assert!(
        code.contains(&format!("SOURCE : & 'static str = {lit}")),
        "{code}"
    );
}
