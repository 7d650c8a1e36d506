mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def f(int x) { return mgpu[0, x]; }
    IndexTaskMap * f;
}

fn main() {}
