mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(Task task) {
        t = (1, *);
        return mgpu[0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
