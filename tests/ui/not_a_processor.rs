mapper_macros::mapper! {
    M;
    def f(Task task) { return task.ipoint; }
    IndexTaskMap * f;
}

fn main() {}
