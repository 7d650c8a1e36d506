mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        p = mgpu[0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
