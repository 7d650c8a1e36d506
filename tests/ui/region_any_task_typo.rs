// With `*` as the task, a region name is checked against every task's regions.
mapper_macros::app_names! {
    mod names {
        gemm(a: [a_tiles], b: [b_tiles], c: [c_tiles]);
        shift(src: [a_tiles], dst: [a_next]);
    }
}

mapper_macros::mapper! {
    pub M for names;
    Region * a_nxt GPU FBMEM;
    CollectMemory * sr;
}

fn main() {}
