// Every error is reported at once, each under its own tokens.
mapper_macros::mapper! {
    pub M;
    Task * GPU,CPUS;
    Region * * GPU FBMEN;
    Layout * * * SOA F_ordre;
    def f(Task task) {
        return mgpux[0, 0];
    }
    IndexTaskMap * g;
}

fn main() {}
