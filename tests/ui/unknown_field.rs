mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) { return mgpu[mgpu.sise[0] - 1, 0]; }
    IndexTaskMap * f;
}

fn main() {}
