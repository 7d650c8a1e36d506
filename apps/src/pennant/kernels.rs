//! The task bodies of the PENNANT app (one host function for CPUs, OMP pools and emulated
//! GPUs; on a real GPU, with the `cuda` feature, each body runs its NVRTC kernels of
//! [`super::gpu`] instead) and their cost models for the simulator.
//!
//! Every body works on dense local copies of the fields it needs (read through the
//! layout-aware accessors, so any layout works) and applies the per-zone formulas of
//! [`super::seq`] in the same order as the sequential code: zones and sides of a piece give
//! bitwise the sequential values from the same inputs; only the sums at points shared by two
//! pieces add the pieces' partial sums in piece order.

// Index loops mirror the method's per-side and per-corner formulas.
#![allow(clippy::needless_range_loop)]

use super::params::Params;
use super::seq::{
    edge_mid, prev, qcs_zone, side_area_vol, state_at_half, tts_force, zone_centre, zone_dt,
    QcsZone, RectMesh, FUZZ, V2,
};
use runtime::task::{Cost, CostModel};
use runtime::{TaskCtx, TaskError, Value};
use std::sync::Arc;

/// Point fields.
pub const POINT_FIELDS: &[&str] = &[
    "px_x", "px_y", "pu_x", "pu_y", "pu0_x", "pu0_y", "pxp_x", "pxp_y", "pf_x", "pf_y", "pmass",
];
/// Zone fields.
pub const ZONE_FIELDS: &[&str] = &[
    "zr", "ze", "zp", "zm", "zetot", "zwrate", "zvol", "zvol0", "zvolp", "zareap", "zxp_x",
    "zxp_y", "zrp", "zss", "zdl", "zdu",
];
/// Side fields.
pub const SIDE_FIELDS: &[&str] = &[
    "smf", "exp_x", "exp_y", "sareap", "elen", "cmaswt", "sfp_x", "sfp_y", "sft_x", "sft_y",
    "sfq_x", "sfq_y",
];

/// What every task body needs of the problem: the parameters and the mesh.
pub struct Setup {
    /// Parameters.
    pub p: Params,
    /// Mesh (initial positions).
    pub mesh: RectMesh,
    /// Fixed boundaries: the direction held and the coordinate axis and value of the plane.
    pub bcs: Vec<(V2, usize, f64)>,
}

impl Setup {
    /// The setup of `p`.
    pub fn new(p: Params) -> Setup {
        let mesh = RectMesh::new(&p);
        let mut bcs = Vec::new();
        for &c in &p.bcx {
            bcs.push((V2::new(1.0, 0.0), 0, c));
        }
        for &c in &p.bcy {
            bcs.push((V2::new(0.0, 1.0), 1, c));
        }
        Setup { p, mesh, bcs }
    }
}

fn err(ctx: &TaskCtx, m: &str) -> TaskError {
    TaskError(format!("task `{}`: {m}", ctx.task_name()))
}

/// A dense local copy of a field over global indices `lo..lo + v.len()`.
struct Dense<T> {
    lo: usize,
    v: Vec<T>,
}

impl<T: Copy> Dense<T> {
    fn at(&self, i: usize) -> T {
        self.v[i - self.lo]
    }
    fn set(&mut self, i: usize, x: T) {
        let lo = self.lo;
        self.v[i - lo] = x;
    }
}

/// The index range `lo..hi` covered by the non-empty arguments `args`.
fn span(ctx: &TaskCtx, args: &[usize]) -> Result<(usize, usize), TaskError> {
    let mut r: Option<(usize, usize)> = None;
    for &a in args {
        if ctx.space(a)?.is_empty() {
            continue;
        }
        let b = ctx.bounds(a)?;
        let (lo, hi) = (b.lo.get(0) as usize, b.hi.get(0) as usize + 1);
        r = Some(match r {
            None => (lo, hi),
            Some((l, h)) => (l.min(lo), h.max(hi)),
        });
    }
    Ok(r.unwrap_or((0, 0)))
}

fn load(
    ctx: &TaskCtx,
    args: &[usize],
    f: &str,
    (lo, hi): (usize, usize),
) -> Result<Dense<f64>, TaskError> {
    let mut d = Dense {
        lo,
        v: vec![0.0; hi - lo],
    };
    for &a in args {
        let sp = ctx.space(a)?;
        if sp.is_empty() {
            continue;
        }
        if ctx.layout(a)?.soa {
            let r = ctx.raw::<f64>(a, f)?;
            let (st, blo) = (r.strides()[0], r.bounds().lo.get(0));
            let sl = r.as_slice();
            for_each(sp, |i| d.set(i as usize, sl[(i - blo) as usize * st]));
        } else {
            let r = ctx.read::<f64>(a, f)?;
            for p in sp.iter() {
                d.set(p.get(0) as usize, r.get(p));
            }
        }
    }
    Ok(d)
}

fn load2(
    ctx: &TaskCtx,
    args: &[usize],
    fx: &str,
    fy: &str,
    range: (usize, usize),
) -> Result<Dense<V2>, TaskError> {
    let x = load(ctx, args, fx, range)?;
    let y = load(ctx, args, fy, range)?;
    Ok(Dense {
        lo: x.lo,
        v: x.v.iter().zip(&y.v).map(|(&a, &b)| V2::new(a, b)).collect(),
    })
}

fn store(ctx: &TaskCtx, a: usize, f: &str, d: &Dense<f64>) -> Result<(), TaskError> {
    let sp = ctx.space(a)?;
    if sp.is_empty() {
        return Ok(());
    }
    if ctx.layout(a)?.soa {
        let mut r = ctx.raw::<f64>(a, f)?;
        let (st, blo) = (r.strides()[0], r.bounds().lo.get(0));
        let sl = r
            .as_mut_slice()
            .ok_or_else(|| err(ctx, "a written field is not writable"))?;
        for_each(sp, |i| sl[(i - blo) as usize * st] = d.at(i as usize));
    } else {
        let w = ctx.write::<f64>(a, f)?;
        for p in sp.iter() {
            w.set(p, d.at(p.get(0) as usize));
        }
    }
    Ok(())
}

/// Calls `f` on every index of the 1-D space `sp`, rectangle by rectangle.
fn for_each(sp: &runtime::IndexSpace, mut f: impl FnMut(i64)) {
    for r in sp.rects() {
        for i in r.lo.get(0)..=r.hi.get(0) {
            f(i);
        }
    }
}

/// Sums `d` into the points of reduce argument `a` (field `f`).
fn reduce_sum(ctx: &TaskCtx, a: usize, f: &str, d: &Dense<f64>) -> Result<(), TaskError> {
    let sp = ctx.space(a)?;
    if sp.is_empty() {
        return Ok(());
    }
    if ctx.layout(a)?.soa {
        let mut r = ctx.raw_reduce::<f64>(a, f)?;
        let (st, blo) = (r.strides()[0], r.bounds().lo.get(0));
        let sl = r
            .as_mut_slice()
            .ok_or_else(|| err(ctx, "a reduction instance is not writable"))?;
        for_each(sp, |i| sl[(i - blo) as usize * st] += d.at(i as usize));
    } else {
        let r = ctx.reduce::<f64>(a, f)?;
        for p in sp.iter() {
            r.fold(p, d.at(p.get(0) as usize));
        }
    }
    Ok(())
}

/// The components of `d`.
fn split(d: &Dense<V2>) -> (Dense<f64>, Dense<f64>) {
    let x = Dense {
        lo: d.lo,
        v: d.v.iter().map(|v| v.x).collect(),
    };
    let y = Dense {
        lo: d.lo,
        v: d.v.iter().map(|v| v.y).collect(),
    };
    (x, y)
}

fn store2(ctx: &TaskCtx, a: usize, fx: &str, fy: &str, d: &Dense<V2>) -> Result<(), TaskError> {
    let (x, y) = split(d);
    store(ctx, a, fx, &x)?;
    store(ctx, a, fy, &y)
}

fn zeros<T: Copy + Default>((lo, hi): (usize, usize)) -> Dense<T> {
    Dense {
        lo,
        v: vec![T::default(); hi - lo],
    }
}

/// A range `lo..hi` of global indices.
type Span = (usize, usize);

/// Zone range of argument `a` (a piece's zones) and the sides of those zones.
fn zone_range(ctx: &TaskCtx, a: usize) -> Result<(Span, Span), TaskError> {
    let z = span(ctx, &[a])?;
    Ok((z, (4 * z.0, 4 * z.1)))
}

/// `init_mesh(zones, sides, points_private, points_shared)`: the initial state of a piece.
pub fn init_mesh(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::init_mesh(s, ctx, &gpu);
    }
    let (zr_, sr) = zone_range(ctx, 0)?;
    let (p, mesh) = (&s.p, &s.mesh);
    let mut zf: Vec<Dense<f64>> = ZONE_FIELDS.iter().map(|_| zeros(zr_)).collect();
    let mut sf: Vec<Dense<f64>> = SIDE_FIELDS.iter().map(|_| zeros(sr)).collect();
    for z in zr_.0..zr_.1 {
        let zp = mesh.zone_points(z).map(|q| mesh.px[q]);
        let zc = zone_centre(zp);
        let (mut zarea, mut zvol) = (0.0, 0.0);
        let mut sarea = [0.0; 4];
        for k in 0..4 {
            let (sa, sv) = side_area_vol(zp[k], zp[(k + 1) % 4], zc);
            sarea[k] = sa;
            zarea += sa;
            zvol += sv;
        }
        for k in 0..4 {
            sf[0].set(4 * z + k, sarea[k] / zarea);
        }
        let (r, e) = if p.in_subregion(zc) {
            (p.rinitsub, p.einitsub)
        } else {
            (p.rinit, p.einit)
        };
        let m = r * zvol;
        // zr, ze, zp, zm, zetot, zwrate, zvol, zvol0
        for (i, v) in [r, e, 0.0, m, e * m, 0.0, zvol, zvol]
            .into_iter()
            .enumerate()
        {
            zf[i].set(z, v);
        }
    }
    for (f, d) in ZONE_FIELDS.iter().zip(&zf) {
        store(ctx, 0, f, d)?;
    }
    for (f, d) in SIDE_FIELDS.iter().zip(&sf) {
        store(ctx, 1, f, d)?;
    }
    let pr = span(ctx, &[2, 3])?;
    let mut x = zeros::<V2>(pr);
    for q in pr.0..pr.1 {
        x.set(q, mesh.px[q]);
    }
    let zero = zeros::<f64>(pr);
    for a in [2, 3] {
        store2(ctx, a, "px_x", "px_y", &x)?;
        for f in &POINT_FIELDS[2..] {
            store(ctx, a, f, &zero)?;
        }
    }
    Ok(Value::None)
}

/// `adv_pos_half(points_private, points_shared)`: saves the velocities, moves the points half
/// a step and clears the point masses and forces the corners are summed into.
pub fn adv_pos_half(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::adv_pos_half(ctx, &gpu);
    }
    let dth = 0.5 * ctx.f64(0)?;
    let pr = span(ctx, &[0, 1])?;
    let px = load2(ctx, &[0, 1], "px_x", "px_y", pr)?;
    let pu = load2(ctx, &[0, 1], "pu_x", "pu_y", pr)?;
    let mut pxp = zeros::<V2>(pr);
    for q in pr.0..pr.1 {
        pxp.set(q, px.at(q) + pu.at(q) * dth);
    }
    let zero = zeros::<f64>(pr);
    for a in [0, 1] {
        store2(ctx, a, "pu0_x", "pu0_y", &pu)?;
        store2(ctx, a, "pxp_x", "pxp_y", &pxp)?;
        for f in ["pf_x", "pf_y", "pmass"] {
            store(ctx, a, f, &zero)?;
        }
    }
    Ok(Value::None)
}

/// `calc_ctrs_vols(sides, zones, points_private, points_ghost)`: edge midpoints, side areas
/// and edge lengths, zone centres, areas, volumes and characteristic lengths at the half step.
pub fn calc_ctrs_vols(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::calc_ctrs_vols(s, ctx, &gpu);
    }
    let (zr_, sr) = zone_range(ctx, 1)?;
    let pxp = load2(ctx, &[2, 3], "pxp_x", "pxp_y", span(ctx, &[2, 3])?)?;
    let mut ex = zeros::<V2>(sr);
    let mut sarea = zeros::<f64>(sr);
    let mut elen = zeros::<f64>(sr);
    let mut zx = zeros::<V2>(zr_);
    let mut zarea = zeros::<f64>(zr_);
    let mut zvol = zeros::<f64>(zr_);
    let mut zdl = zeros::<f64>(zr_);
    for z in zr_.0..zr_.1 {
        let zp = s.mesh.zone_points(z).map(|q| pxp.at(q));
        let zc = zone_centre(zp);
        let (mut za, mut zv, mut dl) = (0.0, 0.0, 1e99_f64);
        for k in 0..4 {
            let sd = 4 * z + k;
            let (a, b) = (zp[k], zp[(k + 1) % 4]);
            ex.set(sd, edge_mid(a, b));
            let (sa, sv) = side_area_vol(a, b, zc);
            if sv <= 0.0 {
                return Err(err(ctx, &format!("negative side volume in zone {z}")));
            }
            sarea.set(sd, sa);
            za += sa;
            zv += sv;
            let el = (b - a).length();
            elen.set(sd, el);
            dl = dl.min(4.0 * sa / el);
        }
        zx.set(z, zc);
        zarea.set(z, za);
        zvol.set(z, zv);
        zdl.set(z, dl);
    }
    store2(ctx, 0, "exp_x", "exp_y", &ex)?;
    store(ctx, 0, "sareap", &sarea)?;
    store(ctx, 0, "elen", &elen)?;
    store2(ctx, 1, "zxp_x", "zxp_y", &zx)?;
    store(ctx, 1, "zareap", &zarea)?;
    store(ctx, 1, "zvolp", &zvol)?;
    store(ctx, 1, "zdl", &zdl)?;
    Ok(Value::None)
}

/// `calc_forces(sides, zones)`: PolyGas pressure at the half step, corner masses, pressure and
/// TTS forces.
pub fn calc_forces(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::calc_forces(s, ctx, &gpu);
    }
    let dt = ctx.f64(0)?;
    let (zr_, sr) = zone_range(ctx, 1)?;
    let z = |f| load(ctx, &[1], f, zr_);
    let (zr, ze, zm, zvol, zwrate, zvolp, zarea) = (
        z("zr")?,
        z("ze")?,
        z("zm")?,
        z("zvol")?,
        z("zwrate")?,
        z("zvolp")?,
        z("zareap")?,
    );
    let zx = load2(ctx, &[1], "zxp_x", "zxp_y", zr_)?;
    let smf = load(ctx, &[0], "smf", sr)?;
    let sarea = load(ctx, &[0], "sareap", sr)?;
    let ex = load2(ctx, &[0], "exp_x", "exp_y", sr)?;
    let mut zrp = zeros::<f64>(zr_);
    let mut zp = zeros::<f64>(zr_);
    let mut zss = zeros::<f64>(zr_);
    let mut cmaswt = zeros::<f64>(sr);
    let mut sfp = zeros::<V2>(sr);
    let mut sft = zeros::<V2>(sr);
    for zi in zr_.0..zr_.1 {
        let rp = zm.at(zi) / zvolp.at(zi);
        zrp.set(zi, rp);
        for k in 0..4 {
            let sd = 4 * zi + k;
            cmaswt.set(
                sd,
                rp * zarea.at(zi) * 0.5 * (smf.at(sd) + smf.at(prev(sd))),
            );
        }
        let (p, ss) = state_at_half(
            &s.p,
            zr.at(zi),
            ze.at(zi),
            zvolp.at(zi),
            zvol.at(zi),
            zwrate.at(zi),
            zm.at(zi),
            dt,
        );
        zp.set(zi, p);
        zss.set(zi, ss);
        for k in 0..4 {
            let sd = 4 * zi + k;
            let ssurf = (ex.at(sd) - zx.at(zi)).rot_ccw();
            sfp.set(sd, -p * ssurf);
            sft.set(
                sd,
                tts_force(&s.p, zarea.at(zi), rp, ss, sarea.at(sd), smf.at(sd), ssurf),
            );
        }
    }
    store(ctx, 0, "cmaswt", &cmaswt)?;
    store2(ctx, 0, "sfp_x", "sfp_y", &sfp)?;
    store2(ctx, 0, "sft_x", "sft_y", &sft)?;
    store(ctx, 1, "zrp", &zrp)?;
    store(ctx, 1, "zp", &zp)?;
    store(ctx, 1, "zss", &zss)?;
    Ok(Value::None)
}

/// `calc_qcs(sides, zones, points_private, points_ghost)`: QCS artificial viscosity forces and
/// each zone's velocity difference for the time step.
pub fn calc_qcs(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::calc_qcs(s, ctx, &gpu);
    }
    let (zr_, sr) = zone_range(ctx, 1)?;
    let prange = span(ctx, &[2, 3])?;
    let pxp = load2(ctx, &[2, 3], "pxp_x", "pxp_y", prange)?;
    let pu0 = load2(ctx, &[2, 3], "pu0_x", "pu0_y", prange)?;
    let ex = load2(ctx, &[0], "exp_x", "exp_y", sr)?;
    let elen = load(ctx, &[0], "elen", sr)?;
    let zx = load2(ctx, &[1], "zxp_x", "zxp_y", zr_)?;
    let zrp = load(ctx, &[1], "zrp", zr_)?;
    let zss = load(ctx, &[1], "zss", zr_)?;
    let mut sfq = zeros::<V2>(sr);
    let mut zdu = zeros::<f64>(zr_);
    for z in zr_.0..zr_.1 {
        let pts = s.mesh.zone_points(z);
        let q = QcsZone {
            x: pts.map(|q| pxp.at(q)),
            u: pts.map(|q| pu0.at(q)),
            ex: [0, 1, 2, 3].map(|k| ex.at(4 * z + k)),
            elen: [0, 1, 2, 3].map(|k| elen.at(4 * z + k)),
            zx: zx.at(z),
            zr: zrp.at(z),
            zss: zss.at(z),
        };
        let (f, du) = qcs_zone(&s.p, &q);
        for k in 0..4 {
            sfq.set(4 * z + k, f[k]);
        }
        zdu.set(z, du);
    }
    store2(ctx, 0, "sfq_x", "sfq_y", &sfq)?;
    store(ctx, 1, "zdu", &zdu)?;
    Ok(Value::None)
}

/// `sum_to_points(sides, points_private, points_ghost)`: corner masses and forces summed to
/// points in corner order; written into the piece's private points, reduced (sum) into its
/// boundary points.
pub fn sum_to_points(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::sum_to_points(s, ctx, &gpu);
    }
    let sr = span(ctx, &[0])?;
    let cmaswt = load(ctx, &[0], "cmaswt", sr)?;
    let f = |a, b| load2(ctx, &[0], a, b, sr);
    let (sfp, sfq, sft) = (
        f("sfp_x", "sfp_y")?,
        f("sfq_x", "sfq_y")?,
        f("sft_x", "sft_y")?,
    );
    let pr = span(ctx, &[1, 2])?;
    let mut pmass = zeros::<f64>(pr);
    let mut pf = zeros::<V2>(pr);
    let ftot = |c: usize| sfp.at(c) + sfq.at(c) + sft.at(c);
    for c in sr.0..sr.1 {
        let q = s.mesh.p1(c);
        let cf = ftot(c) - ftot(prev(c));
        pmass.set(q, pmass.at(q) + cmaswt.at(c));
        pf.set(q, pf.at(q) + cf);
    }
    store(ctx, 1, "pmass", &pmass)?;
    store2(ctx, 1, "pf_x", "pf_y", &pf)?;
    reduce_sum(ctx, 2, "pmass", &pmass)?;
    let (x, y) = split(&pf);
    reduce_sum(ctx, 2, "pf_x", &x)?;
    reduce_sum(ctx, 2, "pf_y", &y)?;
    Ok(Value::None)
}

/// `apply_bcs(points_private, points_shared)`: holds the velocities and forces of points on
/// the fixed boundaries to the boundary planes.
pub fn apply_bcs(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::apply_bcs(s, ctx, &gpu);
    }
    let pr = span(ctx, &[0, 1])?;
    let mut pu0 = load2(ctx, &[0, 1], "pu0_x", "pu0_y", pr)?;
    let mut pf = load2(ctx, &[0, 1], "pf_x", "pf_y", pr)?;
    for &(dir, axis, c) in &s.bcs {
        for q in pr.0..pr.1 {
            let x0 = s.mesh.px[q];
            if ((if axis == 0 { x0.x } else { x0.y }) - c).abs() < 1e-12 {
                pu0.set(q, pu0.at(q).project(dir));
                pf.set(q, pf.at(q).project(dir));
            }
        }
    }
    for a in [0, 1] {
        store2(ctx, a, "pu0_x", "pu0_y", &pu0)?;
        store2(ctx, a, "pf_x", "pf_y", &pf)?;
    }
    Ok(Value::None)
}

/// `adv_pos_full(points_private, points_shared)`: accelerations, new velocities and positions.
pub fn adv_pos_full(ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::adv_pos_full(ctx, &gpu);
    }
    let dt = ctx.f64(0)?;
    let pr = span(ctx, &[0, 1])?;
    let px0 = load2(ctx, &[0, 1], "px_x", "px_y", pr)?;
    let pu0 = load2(ctx, &[0, 1], "pu0_x", "pu0_y", pr)?;
    let pf = load2(ctx, &[0, 1], "pf_x", "pf_y", pr)?;
    let pmass = load(ctx, &[0, 1], "pmass", pr)?;
    let mut pu = zeros::<V2>(pr);
    let mut px = zeros::<V2>(pr);
    for q in pr.0..pr.1 {
        let pa = pf.at(q) / pmass.at(q).max(FUZZ);
        let u = pu0.at(q) + pa * dt;
        pu.set(q, u);
        px.set(q, px0.at(q) + 0.5 * (u + pu0.at(q)) * dt);
    }
    for a in [0, 1] {
        store2(ctx, a, "pu_x", "pu_y", &pu)?;
        store2(ctx, a, "px_x", "px_y", &px)?;
    }
    Ok(Value::None)
}

/// `update_zones(zones, sides, points_private, points_ghost)`: new volumes, the work the
/// forces did, energies, densities and work rates.
pub fn update_zones(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::update_zones(s, ctx, &gpu);
    }
    let dt = ctx.f64(0)?;
    let dth = 0.5 * dt;
    let (zr_, sr) = zone_range(ctx, 0)?;
    let prange = span(ctx, &[2, 3])?;
    let px = load2(ctx, &[2, 3], "px_x", "px_y", prange)?;
    let pxp = load2(ctx, &[2, 3], "pxp_x", "pxp_y", prange)?;
    let pu = load2(ctx, &[2, 3], "pu_x", "pu_y", prange)?;
    let pu0 = load2(ctx, &[2, 3], "pu0_x", "pu0_y", prange)?;
    let sfp = load2(ctx, &[1], "sfp_x", "sfp_y", sr)?;
    let sfq = load2(ctx, &[1], "sfq_x", "sfq_y", sr)?;
    let z = |f| load(ctx, &[0], f, zr_);
    let (mut zetot, zm, zp, zvol0) = (z("zetot")?, z("zm")?, z("zp")?, z("zvol")?);
    let mut zvol = zeros::<f64>(zr_);
    let mut zwrate = zeros::<f64>(zr_);
    let mut ze = zeros::<f64>(zr_);
    let mut zr = zeros::<f64>(zr_);
    for zi in zr_.0..zr_.1 {
        let pts = s.mesh.zone_points(zi);
        let zpx = pts.map(|q| px.at(q));
        let zc = zone_centre(zpx);
        let mut v = 0.0;
        for k in 0..4 {
            let (_, sv) = side_area_vol(zpx[k], zpx[(k + 1) % 4], zc);
            if sv <= 0.0 {
                return Err(err(ctx, &format!("negative side volume in zone {zi}")));
            }
            v += sv;
        }
        let mut et = zetot.at(zi);
        let mut zw = 0.0;
        for k in 0..4 {
            let sd = 4 * zi + k;
            let (p1, p2) = (pts[k], pts[(k + 1) % 4]);
            let sftot = sfp.at(sd) + sfq.at(sd);
            let sd1 = sftot.dot(pu0.at(p1) + pu.at(p1));
            let sd2 = (-sftot).dot(pu0.at(p2) + pu.at(p2));
            let dwork = -dth * (sd1 * pxp.at(p1).x + sd2 * pxp.at(p2).x);
            et += dwork;
            zw += dwork;
        }
        zetot.set(zi, et);
        let dvol = v - zvol0.at(zi);
        zwrate.set(zi, (zw + zp.at(zi) * dvol) * (1.0 / dt));
        ze.set(zi, et / (zm.at(zi) + FUZZ));
        zr.set(zi, zm.at(zi) / v);
        zvol.set(zi, v);
    }
    store(ctx, 0, "zetot", &zetot)?;
    store(ctx, 0, "zwrate", &zwrate)?;
    store(ctx, 0, "ze", &ze)?;
    store(ctx, 0, "zr", &zr)?;
    store(ctx, 0, "zvol0", &zvol0)?;
    store(ctx, 0, "zvol", &zvol)?;
    Ok(Value::None)
}

/// `calc_dt(zones)`: the smallest time-step limit of the piece's zones, as a `Value::F64`.
pub fn calc_dt(s: &Setup, ctx: &TaskCtx) -> Result<Value, TaskError> {
    #[cfg(feature = "cuda")]
    if let Some(gpu) = ctx.cuda_gpu() {
        return super::gpu::calc_dt(s, ctx, &gpu);
    }
    let dt = ctx.f64(0)?;
    let zr_ = span(ctx, &[0])?;
    let z = |f| load(ctx, &[0], f, zr_);
    let (zdl, zdu, zss, zvol, zvol0) = (z("zdl")?, z("zdu")?, z("zss")?, z("zvol")?, z("zvol0")?);
    let mut m: f64 = 1e99;
    for zi in zr_.0..zr_.1 {
        m = m.min(zone_dt(
            &s.p,
            zdl.at(zi),
            zdu.at(zi),
            zss.at(zi),
            zvol.at(zi),
            zvol0.at(zi),
            dt,
        ));
    }
    Ok(Value::F64(m))
}

/// A cost model of `flops` per element of argument 0 and `bytes[i]` per element of argument i;
/// at most `cap[i]` elements of argument i count (a ghost argument's bounding rectangle spans
/// the piece, its points are two rows).
pub fn cost(flops: f64, bytes: &'static [f64], cap: Vec<f64>) -> CostModel {
    CostModel::PerArgs(Arc::new(move |rects, _| {
        let v = |i: usize| {
            let n = rects.get(i).map(|r| r.volume() as f64).unwrap_or(0.0);
            cap.get(i).map_or(n, |c| n.min(*c))
        };
        Cost {
            flops: flops * v(0),
            bytes: bytes.iter().enumerate().map(|(i, b)| b * v(i)).collect(),
            streamed: Vec::new(),
        }
    }))
}
