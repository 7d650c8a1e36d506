mapper_macros::mapper! {
    pub M;
    Task * GPX,CPU;
}

fn main() {}
