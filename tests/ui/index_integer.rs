mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        n = mgpu.volume;
        return mgpu[n[0], 0];
    }
    IndexTaskMap * f;
}

fn main() {}
