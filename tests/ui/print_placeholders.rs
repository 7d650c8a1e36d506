mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        print("point {} in {}", task.ipoint);
        return mgpu[0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
