// The generated type is an ordinary Rust type: misusing it is an ordinary type error.
mapper_macros::mapper! {
    pub Good;
    Task * GPU,CPU;
}

fn main() {
    let n: u32 = Good::SOURCE;
}
