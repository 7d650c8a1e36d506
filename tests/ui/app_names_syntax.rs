mapper_macros::app_names! {
    mod names {
        gemm(a: a_tiles);
    }
}

fn main() {}
