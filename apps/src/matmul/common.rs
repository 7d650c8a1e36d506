//! What the six algorithms share: the element types and the tile GEMM (faer, on the strided
//! slices of SOA instances), tile copies, input generation, the reference product and its
//! comparison, and the run driver ([`run_spec`]) that binds the mapper, sizes the problem for
//! the processors the GEMM task runs on, times the multiplication and verifies it.

use crate::{AppError, Outcome, Precision, Verification};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use mapper_core::ProcKind;
use runtime::accessor::{RawField, ReduceValue};
use runtime::{
    FieldSpace, FieldValue, IndexSpace, Point, Privilege, Rect, RegionId, TaskCtx, TaskDecl,
    TaskError, Value,
};
use std::time::Instant;

/// The field every matrix region holds.
pub const FIELD: &str = "v";

/// An element type of the matrices: f64 or f32.
pub trait Elem: FieldValue + ReduceValue + Default + PartialEq + std::fmt::Debug {
    /// The precision.
    const PRECISION: Precision;
    /// Converts from f64.
    fn from_f64(x: f64) -> Self;
    /// Converts to f64.
    fn to_f64(self) -> f64;
    /// `c += a * b` on faer views, with `par` threads.
    fn gemm(c: MatMut<'_, Self>, a: MatRef<'_, Self>, b: MatRef<'_, Self>, par: Par);
}

impl Elem for f64 {
    const PRECISION: Precision = Precision::F64;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn gemm(c: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) {
        matmul(c, Accum::Add, a, b, 1.0, par);
    }
}

impl Elem for f32 {
    const PRECISION: Precision = Precision::F32;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn gemm(c: MatMut<'_, f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, par: Par) {
        matmul(c, Accum::Add, a, b, 1.0, par);
    }
}

/// The relative-error tolerance of a precision (max |C - C_ref| / max |C_ref|).
pub fn tolerance(p: Precision) -> f64 {
    match p {
        Precision::F64 => 1e-12,
        Precision::F32 => 1e-4,
    }
}

/// A 2-D matrix view of a tile: the last two dimensions of the argument's bounds (leading
/// dimensions, as in a layered 3-D region, must have extent 1), with element strides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileShape {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Elements between consecutive rows.
    pub rs: isize,
    /// Elements between consecutive columns.
    pub cs: isize,
}

fn shape_of<T: FieldValue>(
    ctx: &TaskCtx,
    arg: usize,
    raw: &RawField<'_, T>,
) -> Result<TileShape, TaskError> {
    let b = raw.bounds();
    let d = b.dim();
    if d < 2 {
        return Err(TaskError(format!(
            "task `{}` argument {arg}: a tile must be 2-D (or 3-D with one layer), got {d}-D bounds",
            ctx.task_name()
        )));
    }
    let e = b.extents();
    if (0..d - 2).any(|i| e[i] != 1) {
        return Err(TaskError(format!(
            "task `{}` argument {arg}: a layered tile must have one layer, got bounds {b:?}",
            ctx.task_name()
        )));
    }
    let s = raw.strides();
    Ok(TileShape {
        rows: e[d - 2].max(0) as usize,
        cols: e[d - 1].max(0) as usize,
        rs: s[d - 2] as isize,
        cs: s[d - 1] as isize,
    })
}

/// The layout check of the tile GEMM: its operands must be SOA (C or F order, any alignment).
fn require_soa(ctx: &TaskCtx, arg: usize) -> Result<(), TaskError> {
    let l = ctx.layout(arg)?;
    if !l.soa {
        return Err(TaskError(format!(
            "mapping error: the tile GEMM of task `{}` cannot take argument {arg} laid out AOS; \
             it needs SOA tiles (C_order or F_order); help: use `Layout {} * * SOA C_order;`",
            ctx.task_name(),
            ctx.task_name()
        )));
    }
    Ok(())
}

/// How the GEMM's C argument is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CMode {
    /// Read-write: `C += A * B` in place.
    ReadWrite,
    /// Sum reduction: the product goes into the task's private reduction instance.
    Reduce,
}

/// The tile GEMM: `C += A * B` for region arguments `a`, `b`, `c` (field [`FIELD`]), on the
/// instances' strided slices; single-threaded on a CPU, the OMP pool's threads on an OMP
/// processor.
pub fn tile_gemm<T: Elem>(
    ctx: &TaskCtx,
    a: usize,
    b: usize,
    c: usize,
    mode: CMode,
) -> Result<(), TaskError> {
    for arg in [a, b, c] {
        require_soa(ctx, arg)?;
    }
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        let _ = mode; // the device view of a reduce argument is its reduction instance
        return super::gpu::tile_gemm::<T>(ctx, &gpu, a, b, c);
    }
    let ra = ctx.raw::<T>(a, FIELD)?;
    let rb = ctx.raw::<T>(b, FIELD)?;
    let mut rc = match mode {
        CMode::ReadWrite => ctx.raw::<T>(c, FIELD)?,
        CMode::Reduce => ctx.raw_reduce::<T>(c, FIELD)?,
    };
    let (sa, sb, sc) = (
        shape_of(ctx, a, &ra)?,
        shape_of(ctx, b, &rb)?,
        shape_of(ctx, c, &rc)?,
    );
    if sa.rows != sc.rows || sb.cols != sc.cols || sa.cols != sb.rows {
        return Err(TaskError(format!(
            "task `{}`: tile shapes do not multiply: A {}x{}, B {}x{}, C {}x{}",
            ctx.task_name(),
            sa.rows,
            sa.cols,
            sb.rows,
            sb.cols,
            sc.rows,
            sc.cols
        )));
    }
    if sc.rows == 0 || sc.cols == 0 {
        return Ok(());
    }
    let (pa, pb) = (ra.as_slice().as_ptr(), rb.as_slice().as_ptr());
    let pc = rc
        .as_mut_slice()
        .ok_or_else(|| TaskError(format!("task `{}`: C is not writable", ctx.task_name())))?
        .as_mut_ptr();
    let par = match ctx.threads() {
        1 => Par::Seq,
        n => Par::rayon(n),
    };
    let _pool = ctx.pool_busy();
    // SAFETY: each pointer is the start of a slice covering the argument's bounding rectangle
    // with the given strides (checked by the runtime); A, B and C are distinct instances.
    unsafe {
        let am = MatRef::from_raw_parts(pa, sa.rows, sa.cols, sa.rs, sa.cs);
        let bm = MatRef::from_raw_parts(pb, sb.rows, sb.cols, sb.rs, sb.cs);
        let cm = MatMut::from_raw_parts_mut(pc, sc.rows, sc.cols, sc.rs, sc.cs);
        T::gemm(cm, am, bm, par);
    }
    Ok(())
}

/// Copies the tile of argument `src` into argument `dst` (same extents, any positions and
/// layouts): the data movement of shifts, rolls, broadcasts and replication.
pub fn copy_tile<T: Elem>(ctx: &TaskCtx, src: usize, dst: usize) -> Result<(), TaskError> {
    let (bs, bd) = (ctx.bounds(src)?, ctx.bounds(dst)?);
    let trailing = |r: &Rect| {
        let e = r.extents();
        let d = r.dim();
        (d >= 2).then(|| (e[d - 2], e[d - 1]))
    };
    if bs.volume() != bd.volume() || trailing(&bs).is_none() || trailing(&bs) != trailing(&bd) {
        return Err(TaskError(format!(
            "task `{}`: source tile {bs:?} and destination tile {bd:?} differ in shape",
            ctx.task_name()
        )));
    }
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::copy_tile::<T>(ctx, &gpu, src, dst);
    }
    if ctx.layout(src)?.soa && ctx.layout(dst)?.soa {
        let rs = ctx.raw::<T>(src, FIELD)?;
        let mut rd = ctx.raw::<T>(dst, FIELD)?;
        let (ss, sd) = (shape_of(ctx, src, &rs)?, shape_of(ctx, dst, &rd)?);
        let s = rs.as_slice();
        let d = rd.as_mut_slice().ok_or_else(|| {
            TaskError(format!(
                "task `{}`: destination is not writable",
                ctx.task_name()
            ))
        })?;
        copy_strided(s, ss, d, sd);
        return Ok(());
    }
    // AOS on either side: go point by point through the layout-aware accessors.
    let r = ctx.read::<T>(src, FIELD)?;
    let w = ctx.write::<T>(dst, FIELD)?;
    let (ds, dd) = (bs.dim(), bd.dim());
    for p in bd.iter() {
        let mut c = [0i64; 3];
        for (i, x) in c.iter_mut().enumerate().take(ds) {
            *x = bs.lo.get(i);
        }
        for t in 1..=2 {
            c[ds - t] += p.get(dd - t) - bd.lo.get(dd - t);
        }
        let q = Point::new(&c[..ds]).unwrap_or(bs.lo);
        w.set(p, r.get(q));
    }
    Ok(())
}

fn copy_strided<T: Copy>(s: &[T], ss: TileShape, d: &mut [T], sd: TileShape) {
    let (rows, cols) = (sd.rows, sd.cols);
    if ss.cs == 1 && sd.cs == 1 {
        for r in 0..rows {
            let (so, dof) = (r * ss.rs as usize, r * sd.rs as usize);
            if let (Some(src), Some(dst)) = (s.get(so..so + cols), d.get_mut(dof..dof + cols)) {
                dst.copy_from_slice(src);
            }
        }
    } else if ss.rs == 1 && sd.rs == 1 {
        for c in 0..cols {
            let (so, dof) = (c * ss.cs as usize, c * sd.cs as usize);
            if let (Some(src), Some(dst)) = (s.get(so..so + rows), d.get_mut(dof..dof + rows)) {
                dst.copy_from_slice(src);
            }
        }
    } else {
        for r in 0..rows {
            for c in 0..cols {
                let so = r * ss.rs as usize + c * ss.cs as usize;
                let dof = r * sd.rs as usize + c * sd.cs as usize;
                if let (Some(v), Some(o)) = (s.get(so), d.get_mut(dof)) {
                    *o = *v;
                }
            }
        }
    }
}

/// Input value of matrix `which` (0 = A, 1 = B) at global (row, col): uniform in [-1, 1),
/// a hash of the position and the seed.
pub fn input_value(which: u64, row: i64, col: i64, seed: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(which.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add((row as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7))
        .wrapping_add((col as u64).wrapping_mul(0x94D0_49BB_1331_11EB));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// The body of `init_tiles(tile)`: scalar 0 says which matrix (0 = A, 1 = B, 2 = C, zeroed),
/// scalar 1 is the seed. Values depend on the global (row, col) of each point.
pub fn init_tile<T: Elem>(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::init_tile::<T>(ctx, &gpu).map(|()| Value::None);
    }
    let which = ctx.i64(0)?;
    let seed = ctx.i64(1)? as u64;
    let b = ctx.bounds(0)?;
    let d = b.dim();
    let value = |p: &Point| -> T {
        if which >= 2 {
            T::default()
        } else {
            T::from_f64(input_value(which as u64, p.get(d - 2), p.get(d - 1), seed))
        }
    };
    if ctx.layout(0)?.soa && d >= 2 {
        let mut raw = ctx.raw::<T>(0, FIELD)?;
        let sh = shape_of(ctx, 0, &raw)?;
        let (row0, col0) = (b.lo.get(d - 2), b.lo.get(d - 1));
        let out = raw
            .as_mut_slice()
            .ok_or_else(|| TaskError("init_tiles: tile is not writable".into()))?;
        for r in 0..sh.rows {
            for c in 0..sh.cols {
                let v = if which >= 2 {
                    T::default()
                } else {
                    T::from_f64(input_value(
                        which as u64,
                        row0 + r as i64,
                        col0 + c as i64,
                        seed,
                    ))
                };
                if let Some(o) = out.get_mut(r * sh.rs as usize + c * sh.cs as usize) {
                    *o = v;
                }
            }
        }
    } else {
        let w = ctx.write::<T>(0, FIELD)?;
        for p in ctx.space(0)?.iter() {
            w.set(p, value(&p));
        }
    }
    Ok(Value::None)
}

/// Declares `init_tiles(tile)`, launched once per matrix over its tile partition.
pub fn init_task<T: Elem>(tile_regions: &[&str]) -> TaskDecl {
    TaskDecl::new("init_tiles")
        .arg("tile", Privilege::WriteDiscard, &[FIELD], tile_regions)
        .all_kinds(init_tile::<T>)
        .index_launch()
}

/// Declares a tile GEMM task `name(a, b, c)`; `c` is read-write or a sum reduction.
pub fn gemm_task<T: Elem>(name: &str, args: [(&str, &[&str]); 3], mode: CMode) -> TaskDecl {
    let cpriv = match mode {
        CMode::ReadWrite => Privilege::ReadWrite,
        CMode::Reduce => Privilege::Reduce(runtime::ReduceOp::Sum),
    };
    // One body for every processor kind: on a real GPU (feature `cuda`) it runs cuBLAS on the
    // instances' device memory, elsewhere (CPUs, OMP, emulated GPUs) the host GEMM.
    TaskDecl::new(name)
        .arg(args[0].0, Privilege::Read, &[FIELD], args[0].1)
        .arg(args[1].0, Privilege::Read, &[FIELD], args[1].1)
        .arg(args[2].0, cpriv, &[FIELD], args[2].1)
        .all_kinds(move |ctx| tile_gemm::<T>(ctx, 0, 1, 2, mode).map(|()| Value::None))
        .cost(gemm_cost(std::mem::size_of::<T>()))
        .index_launch()
}

/// Width of the blocks in which a GPU GEMM kernel streams its operands when they are not cached:
/// cuBLAS DGEMM with A and B in mapped host memory ran at 0.52 TFLOP/s at 4096^3 and 8192^3 on an
/// H100 (docs/cuda.md), i.e. each operand crossed the 51 GB/s bus about once per 80 rows or
/// columns of the other operand.
const GEMM_STREAM_BLOCK: f64 = 80.0;

/// The simulator's cost of a tile GEMM of `elem`-byte elements: 2 m n k flops, with m k, k n
/// and m n the volumes of the A, B and C tiles (so 2 sqrt(|A| |B| |C|)); bytes: each tile read
/// once (C twice); streamed bytes (memories the processor does not cache): A once per
/// [`GEMM_STREAM_BLOCK`] columns of C, B once per block of rows, C twice.
fn gemm_cost(elem: usize) -> runtime::task::CostModel {
    runtime::task::CostModel::PerArgs(std::sync::Arc::new(move |rects, _| {
        let vol: Vec<f64> = rects.iter().map(|r| r.volume() as f64).collect();
        let (flops, streamed) = match (vol.as_slice(), rects.get(2)) {
            ([a, b, c, ..], Some(cr)) => {
                let e = cr.extents();
                let (m, n) = (
                    e.first().copied().unwrap_or(1) as f64,
                    e.get(1).copied().unwrap_or(1) as f64,
                );
                let el = elem as f64;
                let passes = |x: f64| (x / GEMM_STREAM_BLOCK).ceil().max(1.0);
                (
                    2.0 * (a * b * c).sqrt(),
                    vec![a * el * passes(n), b * el * passes(m), 2.0 * c * el],
                )
            }
            _ => (0.0, Vec::new()),
        };
        runtime::task::Cost {
            flops,
            bytes: Vec::new(),
            streamed,
        }
    }))
}

/// Declares a tile copy task `name(src, dst)`.
pub fn copy_task<T: Elem>(name: &str, src: &[&str], dst: &[&str]) -> TaskDecl {
    TaskDecl::new(name)
        .arg("src", Privilege::Read, &[FIELD], src)
        .arg("dst", Privilege::WriteDiscard, &[FIELD], dst)
        .all_kinds(|ctx| copy_tile::<T>(ctx, 0, 1).map(|()| Value::None))
        .index_launch()
}

/// The reference product `A x B` (C order, N x N) computed with one multithreaded GEMM.
pub fn reference<T: Elem>(n: usize, seed: u64) -> Vec<T> {
    let (a, b) = inputs::<T>(n, seed);
    let mut c = vec![T::default(); n * n];
    gemm_whole(&a, &b, &mut c, n, threads());
    c
}

/// From this order on, a machine with real GPUs computes the reference with one cuBLAS GEMM
/// on GPU 0 (the host GEMM would take longer than the run being checked).
pub const GPU_REFERENCE_FROM: usize = 2048;

/// The reference used to verify a run: [`reference`], or on a machine with real GPUs and
/// `n >= GPU_REFERENCE_FROM` the same product from one cuBLAS GEMM (feature `cuda`).
fn checked_reference<T: Elem>(n: usize, seed: u64) -> Result<Vec<T>, AppError> {
    #[cfg(feature = "cuda")]
    if n >= GPU_REFERENCE_FROM {
        if let Some(r) = super::gpu::reference::<T>(n, seed)
            .map_err(|e| AppError::Config(format!("GPU reference product: {e}")))?
        {
            return Ok(r);
        }
    }
    Ok(reference::<T>(n, seed))
}

/// The inputs A and B (C order, N x N).
pub fn inputs<T: Elem>(n: usize, seed: u64) -> (Vec<T>, Vec<T>) {
    let gen = |which: u64| -> Vec<T> {
        (0..n * n)
            .map(|i| T::from_f64(input_value(which, (i / n) as i64, (i % n) as i64, seed)))
            .collect()
    };
    (gen(0), gen(1))
}

/// Cores of this machine.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// `c += a * b` for C-order N x N matrices with one GEMM call on `threads` threads.
pub fn gemm_whole<T: Elem>(a: &[T], b: &[T], c: &mut [T], n: usize, threads: usize) {
    let par = if threads > 1 {
        Par::rayon(threads)
    } else {
        Par::Seq
    };
    if a.len() < n * n || b.len() < n * n || c.len() < n * n || n == 0 {
        return;
    }
    let ni = n as isize;
    // SAFETY: each slice holds n * n elements in C order (row stride n, column stride 1).
    unsafe {
        T::gemm(
            MatMut::from_raw_parts_mut(c.as_mut_ptr(), n, n, ni, 1),
            MatRef::from_raw_parts(a.as_ptr(), n, n, ni, 1),
            MatRef::from_raw_parts(b.as_ptr(), n, n, ni, 1),
            par,
        );
    }
}

/// max |got - want| / max |want| (infinite if the lengths differ).
pub fn max_rel_error<T: Elem>(got: &[T], want: &[T]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    let mut scale = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        let (g, w) = (g.to_f64(), w.to_f64());
        let d = (g - w).abs();
        if d.is_nan() {
            return f64::INFINITY;
        }
        diff = diff.max(d);
        scale = scale.max(w.abs());
    }
    if scale == 0.0 {
        diff
    } else {
        diff / scale
    }
}

/// The timed single-GEMM baseline: one GEMM of the whole N x N problem on `threads` threads.
/// Returns (seconds, GFLOP/s) of the best of `reps` calls.
pub fn gemm_baseline(n: usize, precision: Precision, threads: usize, reps: usize) -> (f64, f64) {
    fn go<T: Elem>(n: usize, threads: usize, reps: usize) -> f64 {
        let (a, b) = inputs::<T>(n, 1);
        let mut c = vec![T::default(); n * n];
        gemm_whole(&a, &b, &mut c, n, threads);
        let mut best = f64::INFINITY;
        for _ in 0..reps.max(1) {
            c.iter_mut().for_each(|x| *x = T::default());
            let t = Instant::now();
            gemm_whole(&a, &b, &mut c, n, threads);
            best = best.min(t.elapsed().as_secs_f64());
        }
        best
    }
    let t = match precision {
        Precision::F64 => go::<f64>(n, threads, reps),
        Precision::F32 => go::<f32>(n, threads, reps),
    };
    (t, 2.0 * (n as f64).powi(3) / t / 1e9)
}

/// A matrix-multiplication app: its static description and its algorithm.
pub struct MatmulSpec {
    /// Registry name.
    pub name: &'static str,
    /// One-line description.
    pub description: &'static str,
    /// The expert mapper (made with `mapper!`, checked against the app's names at compile time).
    pub expert: crate::Expert,
    /// Further mappers beside the app (the ZCMEM variant of the expert).
    pub mappers: &'static [crate::NamedMapper],
    /// The GEMM task(s); the first decides the processor kind and count the grid is built for.
    pub gemm_tasks: &'static [&'static str],
    /// The layouts the tile GEMM tasks need.
    pub layout_rules: &'static [crate::LayoutRule],
    /// Declares the tasks for a precision.
    pub declare: fn(Precision) -> runtime::App,
    /// The grid for `procs` processors: (description, multiple N must be rounded up to).
    pub grid: fn(u32) -> Grid,
    /// Launches the algorithm (partitions, init, the timed multiplication).
    pub body: fn(&mut Job<'_>) -> Result<(), AppError>,
}

/// An algorithm's decomposition for a processor count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grid {
    /// Extents of the decomposition (meaning depends on the algorithm).
    pub dims: Vec<i64>,
    /// N is rounded up to a multiple of this.
    pub multiple: i64,
    /// Human-readable description, e.g. `grid 2x2`.
    pub text: String,
}

/// A running multiplication: the app's job (runtime, tasks, clock), N, the grid and the
/// matrices.
pub struct Job<'a> {
    /// The generic job (runtime with the mapper bound, task declarations, clock).
    pub job: &'a mut crate::Job,
    /// Matrix order.
    pub n: i64,
    /// The grid.
    pub grid: Grid,
    /// Input seed.
    pub seed: u64,
    /// Precision.
    pub precision: Precision,
    /// Region A (N x N).
    pub a: RegionId,
    /// Region B (N x N).
    pub b: RegionId,
    /// Region C (N x N).
    pub c: RegionId,
}

impl std::ops::Deref for Job<'_> {
    type Target = crate::Job;
    fn deref(&self) -> &crate::Job {
        self.job
    }
}

impl std::ops::DerefMut for Job<'_> {
    fn deref_mut(&mut self) -> &mut crate::Job {
        self.job
    }
}

impl Job<'_> {
    /// The field space of a matrix region of this precision.
    pub fn fields(&self) -> FieldSpace {
        fields(self.precision)
    }

    /// Creates a matrix-shaped region over `rect`.
    pub fn region(&mut self, name: &str, rect: Rect) -> Result<RegionId, AppError> {
        let f = self.fields();
        Ok(self
            .rt
            .create_region(name, IndexSpace::from_rect(rect), f)?)
    }

    /// Launches `init_tiles` over every color of `part` for matrix `which` (0 A, 1 B, 2 C).
    pub fn init(
        &mut self,
        part: runtime::PartitionId,
        colors: Rect,
        which: i64,
    ) -> Result<(), AppError> {
        let t = self.task("init_tiles")?;
        let seed = self.seed as i64;
        self.rt.index_launch(
            t,
            colors,
            &[part.into()],
            &[Value::I64(which), Value::I64(seed)],
        )?;
        Ok(())
    }
}

fn fields(p: Precision) -> FieldSpace {
    match p {
        Precision::F64 => FieldSpace::new().field::<f64>(FIELD),
        Precision::F32 => FieldSpace::new().field::<f32>(FIELD),
    }
}

/// Runs one matrix-multiplication app on a job: builds the grid for the processors the GEMM
/// runs on, launches, times and verifies against the reference product.
pub fn run_spec(spec: &MatmulSpec, job: &mut crate::Job) -> Result<Outcome, AppError> {
    let gemm = spec
        .gemm_tasks
        .first()
        .ok_or_else(|| AppError::Config("the app declares no GEMM task".into()))?;
    let (kind, procs): (ProcKind, u32) = job.procs_of(gemm)?;
    let grid = (spec.grid)(procs);
    let want = job.problem.get("n").max(1);
    let m = grid.multiple.max(1);
    let n = ((want + m - 1) / m).saturating_mul(m);
    let precision = job.problem.precision;
    let seed = job.problem.seed;
    let fs = fields(precision);
    let sq = Rect::r2((0, 0), (n - 1, n - 1));
    let a = job
        .rt
        .create_region("a", IndexSpace::from_rect(sq), fs.clone())?;
    let b = job
        .rt
        .create_region("b", IndexSpace::from_rect(sq), fs.clone())?;
    let c = job.rt.create_region("c", IndexSpace::from_rect(sq), fs)?;
    let mut mj = Job {
        job,
        n,
        grid,
        seed,
        precision,
        a,
        b,
        c,
    };
    (spec.body)(&mut mj)?;
    let grid_text = mj.grid.text.clone();
    mj.job.stop_clock()?;
    let nu = n as usize;
    let (verification, max_rel_error) = if mj.job.simulated() {
        // A simulated run computes no data: there is nothing to verify.
        (Verification::Simulated, f64::NAN)
    } else {
        let e = match precision {
            Precision::F64 => {
                let got = mj.job.rt.read_field::<f64>(c, FIELD)?;
                max_rel_error(&got, &checked_reference::<f64>(nu, seed)?)
            }
            Precision::F32 => {
                let got = mj.job.rt.read_field::<f32>(c, FIELD)?;
                max_rel_error(&got, &checked_reference::<f32>(nu, seed)?)
            }
        };
        let tol = tolerance(precision);
        let note = format!("max rel error {e:.3e}, tolerance {tol:.0e}");
        if e < tol {
            (Verification::Verified(note), e)
        } else {
            (
                Verification::Failed(format!("C differs from the reference product: {note}")),
                e,
            )
        }
    };
    let mut extra = std::collections::BTreeMap::new();
    extra.insert("n", n as f64);
    if max_rel_error.is_finite() {
        extra.insert("max_rel_error", max_rel_error);
    }
    Ok(Outcome {
        work: 2.0 * (n as f64).powi(3),
        unit: "FLOP",
        decomposition: format!("N={n} {grid_text} on {procs} {kind}"),
        verification,
        extra,
    })
}

/// The smallest p >= max(2, ceil(sqrt(procs))) whose p x p grid deals evenly over `procs`
/// processors (p^2 a multiple of procs), searching up to twice that; else that lower bound.
pub fn square_grid(procs: u32) -> i64 {
    let p = i64::from(procs.max(1));
    let lo = ((p as f64).sqrt().ceil() as i64).max(2);
    (lo..=2 * lo).find(|q| (q * q) % p == 0).unwrap_or(lo)
}

/// Color rectangle `0..e0 x 0..e1 (x 0..e2)`.
pub fn colors(extents: &[i64]) -> Result<Rect, AppError> {
    Rect::from_extents(extents)
        .ok_or_else(|| AppError::Config(format!("bad color extents {extents:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_grids() {
        assert_eq!(
            [1, 2, 3, 4, 8, 16, 6].map(square_grid),
            [2, 2, 3, 2, 4, 4, 6]
        );
    }

    #[test]
    fn reference_matches_triple_loop() {
        let n = 7;
        let (a, b) = inputs::<f64>(n, 3);
        let c = reference::<f64>(n, 3);
        for i in 0..n {
            for j in 0..n {
                let want: f64 = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
                assert!((c[i * n + j] - want).abs() < 1e-12, "({i},{j})");
            }
        }
        assert_eq!(max_rel_error(&c, &c), 0.0);
        let mut d = c.clone();
        d[3] += 1.0;
        assert!(max_rel_error(&d, &c) > 1e-3);
    }

    #[test]
    fn inputs_are_in_range_and_seeded() {
        let v: Vec<f64> = (0..1000).map(|i| input_value(0, i, 2 * i, 9)).collect();
        assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
        assert_ne!(input_value(0, 1, 2, 9), input_value(0, 1, 2, 10));
        assert_ne!(input_value(0, 1, 2, 9), input_value(1, 1, 2, 9));
    }

    #[test]
    fn strided_copy_between_orders() {
        // 2 x 3 tile: C order source, F order destination.
        let s = [1, 2, 3, 4, 5, 6];
        let mut d = [0; 6];
        copy_strided(
            &s,
            TileShape {
                rows: 2,
                cols: 3,
                rs: 3,
                cs: 1,
            },
            &mut d,
            TileShape {
                rows: 2,
                cols: 3,
                rs: 1,
                cs: 2,
            },
        );
        assert_eq!(d, [1, 4, 2, 5, 3, 6]);
    }
}
