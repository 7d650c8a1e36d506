mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        t = (1, 2) + (1, 2, 3);
        return mgpu[*t];
    }
    IndexTaskMap * f;
}

fn main() {}
