mapper_macros::mapper! {
    M;
    mgpu = Machine(GUP);
}

fn main() {}
