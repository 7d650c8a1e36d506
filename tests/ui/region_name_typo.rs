// A misspelled region name: rustc's "a constant with a similar name exists" help.
mapper_macros::app_names! {
    mod names {
        gemm(a: [a_tiles], b: [b_tiles], c: [c_tiles]);
    }
}

mapper_macros::mapper! {
    pub M for names;
    Region gemm a_tils GPU FBMEM;
}

fn main() {}
