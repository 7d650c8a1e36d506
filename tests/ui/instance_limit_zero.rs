mapper_macros::mapper! {
    M;
    InstanceLimit * GPU 0;
}

fn main() {}
