// `@crate PATH;` (what `runtime::mapper!` passes) names where mapper-core is.
mod reexport {
    pub use mapper_core as core_path;
}

mapper_macros::mapper! {
    @crate crate::reexport::core_path;
    pub Wrapped;
    Task * CPU;
}

fn main() {
    use mapper_core::Mapper;
    assert_eq!(Wrapped.name(), "Wrapped");
    assert_eq!(Wrapped::SOURCE, "Task * CPU;\n");
}
