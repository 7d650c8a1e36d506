mapper_macros::mapper! {
    M;
    Region * * GPUS FBMEM;
}

fn main() {}
