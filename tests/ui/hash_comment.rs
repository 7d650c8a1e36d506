mapper_macros::mapper! {
    M;
    Task * GPU; # comments in mapper! are // comments
}

fn main() {}
