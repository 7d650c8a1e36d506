//! Parse + check of a ~45-line expert mapper (corpus/cosma.mapper). Target: under 100 us.

use criterion::{criterion_group, criterion_main, Criterion};
use mapper_core::{check, parse};
use std::hint::black_box;

const COSMA: &str = include_str!("../corpus/cosma.mapper");

fn parse_check(c: &mut Criterion) {
    c.bench_function("parse_check_cosma", |b| {
        b.iter(|| {
            let out = parse::parse_text(black_box(COSMA));
            let d = check::check(&out.program, None);
            black_box((out.program, d))
        })
    });
    let program = parse::parse_text(COSMA).program;
    c.bench_function("check_only_cosma", |b| {
        b.iter(|| black_box(check::check(black_box(&program), None)))
    });
}

criterion_group!(benches, parse_check);
criterion_main!(benches);
