mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    name = "gpu";
    def f(Task task) { return mgpu[0, 0]; }
    IndexTaskMap * f;
}

fn main() {}
