mapper_macros::mapper! {
    pub M for;
    Task * GPU;
}

fn main() {}
