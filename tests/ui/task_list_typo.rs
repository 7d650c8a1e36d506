mapper_macros::app_names! {
    mod names {
        stencil(input: [halo], output: [tiles]);
        increment(input: [tiles]);
    }
}

mapper_macros::mapper! {
    pub M for names;
    mgpu = Machine(GPU);
    def f(Task task) { return mgpu[0, 0]; }
    IndexTaskMap stencil, incremnt f;
    InstanceLimit stencl 2;
}

fn main() {}
