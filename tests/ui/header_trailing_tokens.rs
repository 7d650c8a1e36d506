mapper_macros::mapper! {
    Task * GPU;
}

fn main() {}
