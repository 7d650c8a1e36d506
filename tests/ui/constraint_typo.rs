mapper_macros::mapper! {
    M;
    Layout * * * SAO C_order;
}

fn main() {}
