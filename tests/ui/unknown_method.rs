mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        m = mgpu.splt(1, 2);
        return m[0, 0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
