mapper_macros::mapper! {
    M;
    Task * GPU CPU;
    Regoin * * GPU FBMEM;
}

fn main() {}
