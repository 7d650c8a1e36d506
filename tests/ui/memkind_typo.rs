// A misspelled memory kind: the error is under the misspelling, with a did-you-mean.
mapper_macros::mapper! {
    pub M;
    Task * GPU,CPU;
    Region * * GPU FBMEN;
}

fn main() {}
