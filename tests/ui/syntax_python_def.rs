mapper_macros::mapper! {
    M;
    def f(Task task):
        return 0;
}

fn main() {}
