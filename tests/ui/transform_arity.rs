mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        m = mgpu.split(1);
        return m[0, 0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
