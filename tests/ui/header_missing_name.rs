mapper_macros::mapper! {
    pub 3;
    Task * GPU;
}

fn main() {}
