mapper_macros::mapper! {
    pub M
}

fn main() {}
