mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def first(MSpace m) { return m[0, 0]; }
    def f(Task task) { return first(task.ipoint); }
    IndexTaskMap * f;
}

fn main() {}
