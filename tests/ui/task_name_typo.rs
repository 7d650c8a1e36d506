// A misspelled task name is an unresolved name under the misspelling.
mapper_macros::app_names! {
    mod names {
        gemm(a: [a_tiles], b: [b_tiles], c: [c_tiles]);
        init_tiles(a, b, c);
    }
}

mapper_macros::mapper! {
    pub M for names;
    Task gem GPU,CPU;
}

fn main() {}
