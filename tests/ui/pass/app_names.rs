// Task and region names checked against `app_names!`; a mapper as a trait object.
use mapper_core::Mapper;

mapper_macros::app_names! {
    pub mod names {
        gemm(a: [a_tiles], b: [b_tiles], c: [c_tiles]);
        shift(src: [a_tiles], dst: [a_next]);
    }
}

mapper_macros::mapper! {
    pub(crate) Cannon for names;
    Task gemm, shift GPU,CPU;
    Region gemm a_tiles GPU FBMEM;
    Region * a_next GPU ZCMEM;
    Region shift 1 GPU FBMEM;
    Layout gemm * GPU SOA F_order;
    CollectMemory gemm b;
    InstanceLimit gemm GPU 2;
}

fn main() {
    let m: &dyn Mapper = &Cannon;
    assert_eq!(m.name(), "Cannon");
    assert_eq!(names::TASKS.len(), 2);
    assert_eq!(names::TASKS[1], ("shift", &[("src", &["a_tiles"][..]), ("dst", &["a_next"][..])][..]));
    assert!(Cannon::SOURCE.contains("Region * a_next GPU ZCMEM;"));
}
