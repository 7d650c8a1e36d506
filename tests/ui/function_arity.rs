mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def blocked(int i, int n) { return i * mgpu.size[1] / n; }
    def f(Task task) { return mgpu[0, blocked(task.ipoint[0])]; }
    IndexTaskMap * f;
}

fn main() {}
