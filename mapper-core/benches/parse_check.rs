//! Parse + check of a ~45-line expert mapper (the COSMA app's expert, read from its `mapper!`
//! invocation). Target: under 100 us.

use criterion::{criterion_group, criterion_main, Criterion};
use mapper_core::{check, parse};
use std::hint::black_box;

#[path = "../corpus/experts.rs"]
mod experts;

fn parse_check(c: &mut Criterion) {
    let root = experts::workspace_root(env!("CARGO_MANIFEST_DIR"));
    let cosma = experts::expert_text(&root, "cosma").expect("the COSMA expert is readable");
    let cosma = cosma.as_str();
    c.bench_function("parse_check_cosma", |b| {
        b.iter(|| {
            let out = parse::parse_text(black_box(cosma));
            let d = check::check(&out.program, None);
            black_box((out.program, d))
        })
    });
    let program = parse::parse_text(cosma).program;
    c.bench_function("check_only_cosma", |b| {
        b.iter(|| black_box(check::check(black_box(&program), None)))
    });
}

criterion_group!(benches, parse_check);
criterion_main!(benches);
