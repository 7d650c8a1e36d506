// A generated mapper binds and places; SOURCE holds the canonical text.
use mapper_core::{AppInfo, ArgInfo, MachineShape, Mapper, Placement, PointCtx, ProcId, ProcKind, TaskInfo};

mapper_macros::mapper! {
    pub Circuit;
    /// Doc comments and `//` comments are allowed in the body.
    Task * GPU,CPU; // trailing comment
    Region * * GPU FBMEM;
    mgpu = Machine(GPU);
    def block1d(Task task) {
        ip = task.ipoint;
        is = task.ispace;
        node = ip[0] * mgpu.size[0] / is[0];
        per_node = (is[0] + mgpu.size[0] - 1) / mgpu.size[0];
        return mgpu[node, (ip[0] % per_node) * mgpu.size[1] / per_node];
    }
    IndexTaskMap cnc block1d;
}

fn main() {
    assert!(Circuit::SOURCE.starts_with("Task * GPU,CPU;\n"), "{}", Circuit::SOURCE);
    let app = AppInfo {
        name: "circuit".into(),
        tasks: vec![TaskInfo {
            name: "cnc".into(),
            args: vec![ArgInfo { name: "wires".into(), regions: vec![], read_only: false }],
            variants: vec![ProcKind::Cpu, ProcKind::Gpu],
            index_launch: true,
        }],
    };
    let b = Circuit.bind(&app, &MachineShape::new(2, 4, 4)).unwrap();
    assert_eq!(b.proc_kind(0), ProcKind::Gpu);
    let parent = ProcId { node: 0, kind: ProcKind::Cpu, index: 0 };
    for i in 0..16 {
        let p = [i];
        let ctx = PointCtx { task: 0, point: &p, domain: &[16], index_launch: true, parent_proc: parent, seq: 0 };
        let want = Placement::Proc(ProcId { node: (i / 8) as u32, kind: ProcKind::Gpu, index: ((i % 8) / 2) as u32 });
        assert_eq!(b.place(&ctx).unwrap(), want);
    }
    // An out-of-range point is a mapping error naming the function and the line in this file.
    let ctx = PointCtx { task: 0, point: &[16], domain: &[16], index_launch: true, parent_proc: parent, seq: 0 };
    let e = b.place(&ctx).unwrap_err();
    assert_eq!(e.function.as_deref(), Some("block1d"));
    assert_eq!(e.at.map(|p| p.line), Some(15));
    assert_eq!(e.message, "index 2 out of bound for dimension 0 of size 2");
}
