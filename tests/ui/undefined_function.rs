mapper_macros::mapper! {
    M;
    mgpu = Machine(GPU);
    def block(Task task) { return mgpu[0, 0]; }
    IndexTaskMap * blok;
}

fn main() {}
