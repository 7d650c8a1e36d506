//! The expert-mapper corpus: every file parses, checks clean (no errors, no warnings), checks
//! clean against the application its header documents, binds on a GPU machine and a CPU-only
//! machine, and round-trips through the printer.

use mapper_core::app::{AppInfo, ArgInfo, TaskInfo};
use mapper_core::bind::Tables;
use mapper_core::kinds::{MemKind, ProcKind};
use mapper_core::machine::MachineShape;
use mapper_core::{check, parse, print};
use std::path::PathBuf;

/// The benchmarks of BENCHMARKS.md, one corpus file each.
const BENCHMARKS: &[&str] = &[
    "circuit",
    "stencil",
    "pennant",
    "cannon",
    "summa",
    "pumma",
    "johnson",
    "solomonik",
    "cosma",
];

/// Mappers written in the original DSLMapper's style (placement by processor kind, `ISpace`
/// members, combined alignments, ...), one file each.
const ORIGINAL_STYLE: &[&str] = &["circuit_hetero", "solomonik_primitives"];

/// Every corpus file.
fn all() -> impl Iterator<Item = &'static str> {
    BENCHMARKS.iter().chain(ORIGINAL_STYLE).copied()
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

#[path = "../corpus/experts.rs"]
mod experts;

/// A corpus mapper: an app's expert (read from its `mapper!` invocation) or a corpus file.
fn read(name: &str) -> String {
    let root = experts::workspace_root(env!("CARGO_MANIFEST_DIR"));
    if experts::expert_file(&root, name).is_some() {
        return experts::expert_text(&root, name).expect("expert mapper readable");
    }
    std::fs::read_to_string(corpus_dir().join(format!("{name}.mapper")))
        .expect("corpus file exists")
}

/// Builds an application from lines `task KINDS arg=region,region[:ro] ...` where KINDS are
/// letters G (GPU), C (CPU), O (OMP); a `!` after KINDS marks a single (non-index) launch.
fn app(name: &str, spec: &str) -> AppInfo {
    let tasks = spec
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let tname = words.next().unwrap_or_default();
            let kinds = words.next().unwrap_or_default();
            let variants = kinds
                .chars()
                .filter_map(|c| match c {
                    'G' => Some(ProcKind::Gpu),
                    'C' => Some(ProcKind::Cpu),
                    'O' => Some(ProcKind::Omp),
                    _ => None,
                })
                .collect();
            let args = words
                .map(|w| {
                    let (w, read_only) = match w.strip_suffix(":ro") {
                        Some(w) => (w, true),
                        None => (w, false),
                    };
                    let (arg, regions) = w.split_once('=').unwrap_or((w, ""));
                    ArgInfo {
                        name: arg.into(),
                        regions: regions
                            .split(',')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                        read_only,
                    }
                })
                .collect();
            TaskInfo {
                name: tname.into(),
                args,
                variants,
                index_launch: !kinds.ends_with('!'),
            }
        })
        .collect();
    AppInfo {
        name: name.into(),
        tasks,
    }
}

/// The applications as the corpus headers document them.
fn app_of(name: &str) -> AppInfo {
    let spec = match name {
        "circuit" => "
            init_pieces C! wires=all_wires nodes=all_nodes
            calculate_new_currents GC wires=rp_wires,all_wires private_nodes=rp_private,all_nodes:ro shared_nodes=rp_shared,all_nodes:ro ghost_nodes=rp_ghost,all_nodes:ro
            distribute_charge GC wires=rp_wires,all_wires:ro private_nodes=rp_private,all_nodes shared_nodes=rp_shared,all_nodes ghost_nodes=rp_ghost,all_nodes
            update_voltages GC private_nodes=rp_private,all_nodes shared_nodes=rp_shared,all_nodes",
        "stencil" => "
            init GOC tile=tiles,grid
            stencil GOC ghost=ghost,grid:ro out=interior,grid
            increment GOC tile=tiles,grid",
        "pennant" => "
            init_mesh GC zones=zones_p,zones sides=sides_p,sides points_private=points_private,points points_shared=points_shared,points
            adv_pos_half GC points_private=points_private,points points_shared=points_shared,points
            calc_ctrs_vols GC sides=sides_p,sides zones=zones_p,zones points_private=points_private,points:ro points_ghost=points_ghost,points:ro
            calc_forces GC sides=sides_p,sides zones=zones_p,zones
            calc_qcs GC sides=sides_p,sides zones=zones_p,zones points_private=points_private,points:ro points_ghost=points_ghost,points:ro
            sum_to_points GC sides=sides_p,sides:ro points_private=points_private,points points_ghost=points_ghost,points
            apply_bcs GC points_private=points_private,points points_shared=points_shared,points
            adv_pos_full GC points_private=points_private,points points_shared=points_shared,points
            update_zones GC zones=zones_p,zones sides=sides_p,sides:ro points_private=points_private,points:ro points_ghost=points_ghost,points:ro
            calc_dt GC zones=zones_p,zones:ro",
        "cannon" => "
            init_tiles GOC tile=a_tiles,b_tiles,c_tiles,a,b,c
            shift_a GOC src=a_tiles,a_next,a,a_buf:ro dst=a_tiles,a_next,a,a_buf
            shift_b GOC src=b_tiles,b_next,b,b_buf:ro dst=b_tiles,b_next,b,b_buf
            gemm GOC a=a_tiles,a_next,a,a_buf:ro b=b_tiles,b_next,b,b_buf:ro c=c_tiles,c",
        "summa" => "
            init_tiles GOC tile=a_panels,b_panels,c_tiles,a,b,c
            gemm_panel GOC a_panel=a_panels,a:ro b_panel=b_panels,b:ro c=c_tiles,c",
        "pumma" => "
            init_tiles GOC tile=a_tiles,b_tiles,c_tiles,a,b,c
            broadcast_a GOC src=a_tiles,a:ro dst=a_bcast,a_bc
            roll_b GOC src=b_tiles,b_next,b,b_buf:ro dst=b_tiles,b_next,b,b_buf
            gemm GOC a_block=a_bcast,a_bc:ro b_block=b_tiles,b_next,b,b_buf:ro c=c_tiles,c",
        "johnson" => "
            init_tiles GOC tile=a_tiles,b_tiles,c_tiles,a,b,c
            gemm_3d GOC a_face=a_tiles,a:ro b_face=b_tiles,b:ro c=c_tiles,c",
        "solomonik" => "
            init_tiles GOC tile=a_tiles,b_tiles,c_tiles,a,b,c
            replicate GOC src=a_tiles,b_tiles,a,b:ro dst=a_layers,b_layers,a_rep,b_rep
            shift_a GOC src=a_tiles,a_layers,a_next,a,a_rep,a_buf:ro dst=a_layers,a_next,a_rep,a_buf
            shift_b GOC src=b_tiles,b_layers,b_next,b,b_rep,b_buf:ro dst=b_layers,b_next,b_rep,b_buf
            cannon_step GOC a_tile=a_tiles,a_layers,a_next,a,a_rep,a_buf:ro b_tile=b_tiles,b_layers,b_next,b,b_rep,b_buf:ro c=c_tiles,c",
        "circuit_hetero" => "
            init_pieces C! wires=all_wires nodes=all_nodes
            calculate_new_currents GOC wires=rp_wires,all_wires:ro private_nodes=rp_private,all_nodes:ro shared_nodes=rp_shared,all_nodes:ro ghost_nodes=rp_ghost,all_nodes:ro
            distribute_charge GOC wires=rp_wires,all_wires:ro private_nodes=rp_private,all_nodes shared_nodes=rp_shared,all_nodes ghost_nodes=rp_ghost,all_nodes
            update_voltages GOC private_nodes=rp_private,all_nodes shared_nodes=rp_shared,all_nodes",
        "solomonik_primitives" => "
            init_tiles GC tile=a_tiles,b_tiles,c_tiles,a,b,c
            replicate GC src=a_tiles,b_tiles,a,b:ro dst=a_layers,b_layers,a_rep,b_rep
            shift_a GC src=a_tiles,a_layers:ro dst=a_layers,a_next
            shift_b GC src=b_tiles,b_layers:ro dst=b_layers,b_next
            cannon_step GC a_tile=a_tiles:ro b_tile=b_tiles:ro c=c_tiles,c",
        "cosma" => "
            init_tiles GOC tile=a_blocks,b_blocks,c_blocks,a,b,c
            cosma_gemm GOC a_block=a_blocks,a:ro b_block=b_blocks,b:ro c_block=c_blocks,c
            cosma_gemm_k GOC a_block=a_blocks,a:ro b_block=b_blocks,b:ro c_block=c_blocks,c",
        _ => "",
    };
    app(name, spec)
}

#[test]
fn corpus_has_every_benchmark() {
    // Every benchmark's expert is read from its app, and only from there: no `.mapper` copy.
    let root = experts::workspace_root(env!("CARGO_MANIFEST_DIR"));
    for b in BENCHMARKS {
        assert!(
            experts::expert_file(&root, b).is_some_and(|f| f.is_file()),
            "no expert source for {b}"
        );
        assert!(
            !corpus_dir().join(format!("{b}.mapper")).exists(),
            "corpus/{b}.mapper would be a second copy of the {b} expert"
        );
        assert!(read(b).starts_with('#'), "{b}: {}", read(b));
    }
    assert_eq!(experts::EXPERTS.len(), BENCHMARKS.len());
}

#[test]
fn expert_text_is_the_mapper_body() {
    let src = "x\nruntime::mapper! {\n    pub Other for n;\n    Task * CPU;\n}\nruntime::mapper! {\n    pub E for names;\n    // head { brace\n    Task * GPU; // trailing\n\n    def f(Task task) {\n        // inner\n        return m[0, 0];\n    }\n}\n";
    assert_eq!(
        experts::mapper_body(src, "E").as_deref(),
        Some("# head { brace\nTask * GPU; // trailing\n\ndef f(Task task) {\n    # inner\n    return m[0, 0];\n}\n")
    );
    assert_eq!(experts::mapper_body(src, "Missing"), None);
}

#[test]
fn corpus_parses_and_checks_clean() {
    for b in all() {
        let src = read(b);
        let out = parse::parse_text(&src);
        assert!(
            out.diagnostics.is_empty(),
            "{b}: parse diagnostics {:?}",
            out.diagnostics
        );
        let d = check::check(&out.program, None);
        assert!(d.is_empty(), "{b}: check diagnostics {d:?}");
        let app = app_of(b);
        let d = check::check(&out.program, Some(&app));
        assert!(d.is_empty(), "{b}: app-aware check diagnostics {d:?}");
    }
}

#[test]
fn corpus_binds_on_gpu_and_cpu_machines() {
    for b in all() {
        let out = parse::parse_text(&read(b));
        let app = app_of(b);
        for m in [MachineShape::new(2, 8, 4), MachineShape::new(1, 4, 0)] {
            let t = Tables::resolve_program(&out.program, &app, &m);
            assert!(t.is_ok(), "{b} on {m:?}: {:?}", t.err());
        }
    }
}

#[test]
fn circuit_tables_follow_the_expert_strategy() {
    // The circuit expert's strategy as a binder fixture (not read from the app: a tuned expert
    // may change it, this test is about how the binder resolves these statements).
    let strategy =
        "Task * GPU,CPU;\nTask init_pieces CPU;\nRegion * * GPU FBMEM;\nRegion * * CPU SYSMEM;\n\
        Region * rp_shared GPU ZCMEM;\nRegion * rp_ghost GPU ZCMEM;\nRegion init_pieces * CPU ZCMEM,SYSMEM;\n\
        Layout * * * SOA C_order;\n\
        m = Machine(GPU).volume > 0 ? Machine(GPU) : Machine(CPU);\n\
        def block1d(Task task) {\n    return m[0, 0];\n}\n\
        IndexTaskMap calculate_new_currents, distribute_charge, update_voltages block1d;\n";
    let out = parse::parse_text(strategy);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let app = app_of("circuit");
    let t =
        Tables::resolve_program(&out.program, &app, &MachineShape::new(2, 8, 4)).expect("binds");
    let calc = app.task_id("calculate_new_currents").expect("task");
    let init = app.task_id("init_pieces").expect("task");
    assert_eq!(t.proc_kind(calc), ProcKind::Gpu);
    assert_eq!(t.proc_kind(init), ProcKind::Cpu);
    assert_eq!(
        t.memories(calc, 0, ProcKind::Gpu),
        &[MemKind::Fbmem, MemKind::Zcmem]
    );
    assert_eq!(
        t.memories(calc, 1, ProcKind::Gpu),
        &[MemKind::Fbmem, MemKind::Zcmem]
    );
    assert_eq!(
        t.memories(calc, 2, ProcKind::Gpu),
        &[MemKind::Zcmem, MemKind::Fbmem]
    );
    assert_eq!(
        t.memories(calc, 3, ProcKind::Gpu),
        &[MemKind::Zcmem, MemKind::Fbmem]
    );
    // The graph is built in pinned zero-copy memory, SYSMEM where there is none.
    assert_eq!(
        t.memories(init, 0, ProcKind::Cpu),
        &[MemKind::Zcmem, MemKind::Sysmem]
    );
    assert_eq!(t.index_func(calc), Some("block1d"));
    assert_eq!(t.index_func(init), None);
}

#[test]
fn corpus_round_trips_through_the_printer() {
    for b in all() {
        let p = parse::parse_text(&read(b)).program;
        let text = print::print(&p);
        let again = parse::parse_text(&text);
        assert!(
            again.diagnostics.is_empty(),
            "{b}: printed text does not parse: {:?}\n{text}",
            again.diagnostics
        );
        assert_eq!(again.program, p, "{b}: parse(print(p)) != p");
        assert_eq!(print::print(&again.program), text, "{b}: fmt is not stable");
        assert!(
            check::check(&again.program, None).is_empty(),
            "{b}: printed text does not check clean"
        );
    }
}

fn proc(kind: ProcKind, node: u32, index: u32) -> mapper_core::ProcId {
    mapper_core::ProcId { node, kind, index }
}

/// Places one point of `task` with the interpreter bound to `m`.
fn place(
    name: &str,
    m: &MachineShape,
    task: &str,
    point: &[i64],
    domain: &[i64],
    parent: mapper_core::ProcId,
) -> mapper_core::PlaceResult {
    use mapper_core::Mapper;
    let app = app_of(name);
    let interp = mapper_core::interp::Interpreted::from_text(name, &read(name)).expect("valid");
    let bound = interp.bind(&app, m).expect("binds");
    let ctx = mapper_core::PointCtx {
        task: app.task_id(task).expect("task"),
        point,
        domain,
        index_launch: !point.is_empty(),
        parent_proc: parent,
        seq: 0,
    };
    bound.place(&ctx)
}

#[test]
fn circuit_hetero_places_by_name_then_by_kind() {
    let p = parse::parse_text(&read("circuit_hetero")).program;
    let app = app_of("circuit_hetero");
    let id = |n: &str| app.task_id(n).expect("task");
    let (init, calc, dist) = (
        id("init_pieces"),
        id("calculate_new_currents"),
        id("distribute_charge"),
    );
    // GPUs: the entry by name wins, the other tasks take the GPU entry.
    let t = Tables::resolve_program(&p, &app, &MachineShape::new(2, 8, 4)).expect("binds");
    assert_eq!(t.proc_kind(dist), ProcKind::Gpu);
    assert_eq!(t.index_func(calc), Some("currents"));
    assert_eq!(t.index_func(dist), Some("gpu_block"));
    assert_eq!(t.proc_kind(init), ProcKind::Cpu);
    assert_eq!(t.single_func(init), Some("same_point"));
    assert_eq!(t.single_func(dist), None);
    assert_eq!(t.layout(dist, 0, ProcKind::Gpu, MemKind::Fbmem).align, 0);
    // No GPUs: OpenMP groups, their memory list, limit and combined alignment.
    let mut m = MachineShape::new(2, 8, 0);
    m.mems.push(MemKind::Sockmem);
    let t = Tables::resolve_program(&p, &app, &m).expect("binds");
    assert_eq!(t.proc_kind(dist), ProcKind::Omp);
    assert_eq!(t.index_func(dist), Some("omp_block"));
    assert_eq!(t.index_func(calc), Some("currents"));
    assert_eq!(
        t.memories(dist, 0, ProcKind::Omp),
        &[MemKind::Sockmem, MemKind::Sysmem]
    );
    assert_eq!(t.instance_limit(calc, ProcKind::Omp), Some(10));
    assert_eq!(t.instance_limit(dist, ProcKind::Omp), None);
    assert_eq!(
        t.layout(dist, 0, ProcKind::Omp, MemKind::Sockmem).align,
        128
    );
    assert_eq!(t.layout(dist, 0, ProcKind::Omp, MemKind::Sysmem).align, 0);
    // `CollectMemory calculate_new_currents *;`: every read-only argument of that task.
    assert!((0..4).all(|a| t.collect(calc, a)));
    assert!(!t.collect(dist, 0));
    // One core per node (no OpenMP groups): the CPU entry.
    let t = Tables::resolve_program(&p, &app, &MachineShape::new(2, 1, 0)).expect("binds");
    assert_eq!(t.proc_kind(dist), ProcKind::Cpu);
    assert_eq!(t.index_func(dist), Some("cpu_cyclic"));
}

#[test]
fn circuit_hetero_placements() {
    let m = MachineShape::new(2, 4, 2);
    let cpu = proc(ProcKind::Cpu, 1, 3);
    // `m_2d[*task.parent.processor(m_2d)]`: the parent's own core.
    let single = place("circuit_hetero", &m, "init_pieces", &[], &[], cpu);
    assert_eq!(single, Ok(mapper_core::Placement::Proc(cpu)));
    // `gpu_block`: blocks of 2 pieces over the 4 GPUs, node-major (`y.size[0]` of an ISpace).
    let gpus: Vec<_> = (0..8)
        .map(|i| place("circuit_hetero", &m, "update_voltages", &[i], &[8], cpu))
        .collect();
    let want: Vec<_> = [
        (0, 0),
        (0, 0),
        (0, 1),
        (0, 1),
        (1, 0),
        (1, 0),
        (1, 1),
        (1, 1),
    ]
    .iter()
    .map(|&(n, i)| Ok(mapper_core::Placement::Proc(proc(ProcKind::Gpu, n, i))))
    .collect();
    assert_eq!(gpus, want);
    // `currents` (by name): blocks over nodes, cyclic over a node's GPUs.
    let calc: Vec<_> = (0..4)
        .map(|i| {
            place(
                "circuit_hetero",
                &m,
                "calculate_new_currents",
                &[i],
                &[4],
                cpu,
            )
        })
        .collect();
    let want: Vec<_> = [(0, 0), (0, 1), (1, 0), (1, 1)]
        .iter()
        .map(|&(n, i)| Ok(mapper_core::Placement::Proc(proc(ProcKind::Gpu, n, i))))
        .collect();
    assert_eq!(calc, want);
}

#[test]
fn solomonik_primitives_placements() {
    let m = MachineShape::new(2, 4, 2);
    let cpu = proc(ProcKind::Cpu, 0, 0);
    let gpu = |n, i| Ok(mapper_core::Placement::Proc(proc(ProcKind::Gpu, n, i)));
    // `block2d` (init_tiles, by name): a 2 x 2 view of the 4 GPUs shaped like the 4 x 4 launch
    // (`auto_split`'s first dimension varies fastest over the merged node-major GPU list).
    let got: Vec<_> = [[0, 0], [0, 3], [3, 0], [3, 3]]
        .iter()
        .map(|p| place("solomonik_primitives", &m, "init_tiles", p, &[4, 4], cpu))
        .collect();
    assert_eq!(got, vec![gpu(0, 0), gpu(1, 0), gpu(0, 1), gpu(1, 1)]);
    // Fewer points than GPUs: the first `is.volume` GPUs.
    let got = place(
        "solomonik_primitives",
        &m,
        "init_tiles",
        &[0, 2],
        &[1, 3],
        cpu,
    );
    assert_eq!(got, gpu(1, 0));
    // `auto3d` (the GPU entry): nodes split along the longest launch dimension, layers dealt
    // cyclically over a node's GPUs.
    let got: Vec<_> = [[0, 0, 0], [0, 0, 1], [2, 0, 0], [3, 3, 1]]
        .iter()
        .map(|p| {
            place(
                "solomonik_primitives",
                &m,
                "cannon_step",
                p,
                &[4, 4, 2],
                cpu,
            )
        })
        .collect();
    assert_eq!(got, vec![gpu(0, 0), gpu(0, 1), gpu(1, 0), gpu(1, 1)]);
    // No GPUs: the CPU entry.
    let m = MachineShape::new(2, 4, 0);
    let got = place(
        "solomonik_primitives",
        &m,
        "cannon_step",
        &[3, 1, 0],
        &[4, 4, 2],
        cpu,
    );
    assert_eq!(
        got,
        Ok(mapper_core::Placement::Proc(proc(ProcKind::Cpu, 1, 1)))
    );
}
