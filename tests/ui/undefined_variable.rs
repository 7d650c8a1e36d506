mapper_macros::mapper! {
    M;
    def f(Task task) {
        return mgpu[0, 0];
    }
    IndexTaskMap * f;
}

fn main() {}
