//! The `mapper!` compile-fail suite (`tests/ui/*.rs`, each with its `.stderr`) and the pass
//! cases (`tests/ui/pass/*.rs`, compiled and run).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/*.rs");
    t.pass("ui/pass/*.rs");
}
