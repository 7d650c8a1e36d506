mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) { return mgpu[0, True + 1]; }
    IndexTaskMap * f;
}

fn main() {}
