// The only error is the mapper's: the stub type keeps the code that uses it compiling.
use mapper_core::Mapper;

mapper_macros::mapper! {
    pub Broken;
    Region * * GPU FBMEN;
}

fn main() {
    let m = Broken;
    assert_eq!(m.name(), "Broken");
    let app = mapper_core::AppInfo::default();
    let _ = m.bind(&app, &mapper_core::MachineShape::new(1, 1, 1));
    let _: &str = Broken::SOURCE;
}
