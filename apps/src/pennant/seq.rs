//! Sequential PENNANT: the reference implementation of the method on a rectangular quad mesh,
//! written for clarity, and the per-element formulas ([`V2`] arithmetic, equations of state,
//! forces) the task version shares with it.
//!
//! Mesh entities: points (`nump`), zones (quads, `numz`) and sides (four per zone, side `s` of
//! zone `z = s / 4` runs from the zone's `s % 4`-th point to the next one, counter-clockwise).
//! A corner is identified with the side that starts at its point: corner `c` sits at point
//! `p1(c)` of zone `z(c)` between side `prev(c)` and side `c`.

// Index loops mirror the method's per-side and per-corner formulas.
#![allow(clippy::needless_range_loop)]

use super::params::Params;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// A 2-D vector of f64 (x is the radial coordinate of the RZ geometry).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct V2 {
    /// x (r) component.
    pub x: f64,
    /// y (z) component.
    pub y: f64,
}

impl V2 {
    /// The vector (x, y).
    pub const fn new(x: f64, y: f64) -> V2 {
        V2 { x, y }
    }
    /// Dot product.
    pub fn dot(self, o: V2) -> f64 {
        self.x * o.x + self.y * o.y
    }
    /// 2-D cross product (z component).
    pub fn cross(self, o: V2) -> f64 {
        self.x * o.y - self.y * o.x
    }
    /// Squared length.
    pub fn length2(self) -> f64 {
        self.x * self.x + self.y * self.y
    }
    /// Length.
    pub fn length(self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }
    /// Rotated 90 degrees counter-clockwise.
    pub fn rot_ccw(self) -> V2 {
        V2::new(-self.y, self.x)
    }
    /// The part of `self` perpendicular to the unit vector `u`.
    pub fn project(self, u: V2) -> V2 {
        self - u * self.dot(u)
    }
}

impl Add for V2 {
    type Output = V2;
    fn add(self, o: V2) -> V2 {
        V2::new(self.x + o.x, self.y + o.y)
    }
}
impl AddAssign for V2 {
    fn add_assign(&mut self, o: V2) {
        self.x += o.x;
        self.y += o.y;
    }
}
impl Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        V2::new(self.x - o.x, self.y - o.y)
    }
}
impl Neg for V2 {
    type Output = V2;
    fn neg(self) -> V2 {
        V2::new(-self.x, -self.y)
    }
}
impl Mul<f64> for V2 {
    type Output = V2;
    fn mul(self, a: f64) -> V2 {
        V2::new(self.x * a, self.y * a)
    }
}
impl Mul<V2> for f64 {
    type Output = V2;
    fn mul(self, v: V2) -> V2 {
        V2::new(self * v.x, self * v.y)
    }
}
impl Div<f64> for V2 {
    type Output = V2;
    fn div(self, a: f64) -> V2 {
        V2::new(self.x / a, self.y / a)
    }
}

/// Guard against division by zero masses.
pub const FUZZ: f64 = 1e-99;

/// Side `k` (0..4) of zone `z`.
pub fn side(z: usize, k: usize) -> usize {
    4 * z + k
}
/// The side before `s` in its zone (clockwise neighbour).
pub fn prev(s: usize) -> usize {
    (s & !3) | ((s + 3) & 3)
}
/// The side after `s` in its zone.
pub fn next(s: usize) -> usize {
    (s & !3) | ((s + 1) & 3)
}

/// A rectangular mesh of `nzx` x `nzy` quads over `[0, lenx] x [0, leny]`.
#[derive(Clone, Debug)]
pub struct RectMesh {
    /// Zones along x.
    pub nzx: usize,
    /// Zones along y.
    pub nzy: usize,
    /// Initial point positions, row-major (x fastest).
    pub px: Vec<V2>,
}

impl RectMesh {
    /// The mesh of `p` (points row-major, zones row-major, zone points counter-clockwise from
    /// the lower left, as the original's generator orders them).
    pub fn new(p: &Params) -> RectMesh {
        let (nzx, nzy) = (p.nzx, p.nzy);
        let dx = p.lenx / nzx as f64;
        let dy = p.leny / nzy as f64;
        let mut px = Vec::with_capacity((nzx + 1) * (nzy + 1));
        for j in 0..=nzy {
            for i in 0..=nzx {
                px.push(V2::new(dx * i as f64, dy * j as f64));
            }
        }
        RectMesh { nzx, nzy, px }
    }
    /// Number of points.
    pub fn nump(&self) -> usize {
        (self.nzx + 1) * (self.nzy + 1)
    }
    /// Number of zones.
    pub fn numz(&self) -> usize {
        self.nzx * self.nzy
    }
    /// The four points of zone `z`, counter-clockwise.
    pub fn zone_points(&self, z: usize) -> [usize; 4] {
        let (i, j) = (z % self.nzx, z / self.nzx);
        let npx = self.nzx + 1;
        let p0 = j * npx + i;
        [p0, p0 + 1, p0 + npx + 1, p0 + npx]
    }
    /// First point of side `s`.
    pub fn p1(&self, s: usize) -> usize {
        self.zone_points(s / 4)[s % 4]
    }
    /// Second point of side `s`.
    pub fn p2(&self, s: usize) -> usize {
        self.zone_points(s / 4)[(s + 1) % 4]
    }
}

/// Per-zone and per-side geometry of one set of point positions.
#[derive(Clone, Debug, Default)]
pub struct Geometry {
    /// Edge midpoints, per side.
    pub ex: Vec<V2>,
    /// Zone centres.
    pub zx: Vec<V2>,
    /// Side areas.
    pub sarea: Vec<f64>,
    /// Zone areas.
    pub zarea: Vec<f64>,
    /// Zone (RZ) volumes.
    pub zvol: Vec<f64>,
}

/// Edge midpoint, and the side's contribution to its zone centre, of the side from `a` to `b`.
pub fn edge_mid(a: V2, b: V2) -> V2 {
    0.5 * (a + b)
}

/// Area and RZ volume of the side triangle (`a`, `b`, zone centre `zc`).
pub fn side_area_vol(a: V2, b: V2, zc: V2) -> (f64, f64) {
    let sa = 0.5 * (b - a).cross(zc - a);
    let sv = (1.0 / 3.0) * sa * (a.x + b.x + zc.x);
    (sa, sv)
}

/// Zone centre of the four corner positions (summed in side order).
pub fn zone_centre(p: [V2; 4]) -> V2 {
    let mut c = V2::default();
    for q in p {
        c += q;
    }
    c / 4.0
}

/// Pressure, `dp/de` factor and sound speed of the polytropic gas at density `r`, energy `e`.
pub fn eos(gamma: f64, ssmin: f64, r: f64, e: f64) -> (f64, f64, f64) {
    let gm1 = gamma - 1.0;
    let ss2 = (ssmin * ssmin).max(1e-99);
    let ex = e.max(0.0);
    let px = gm1 * r * ex;
    let prex = gm1 * ex;
    let perx = gm1 * r;
    let csqd = ss2.max(prex + perx * px / (r * r));
    (px, perx, csqd.sqrt())
}

/// Pressure advanced to the half step (PolyGas `calcStateAtHalf` for one zone): returns the
/// pressure and the sound speed.
#[allow(clippy::too_many_arguments)]
pub fn state_at_half(
    p: &Params,
    zr0: f64,
    ze: f64,
    zvolp: f64,
    zvol0: f64,
    zwrate: f64,
    zm: f64,
    dt: f64,
) -> (f64, f64) {
    let (zp, z0per, zss) = eos(p.gamma, p.ssmin, zr0, ze);
    let dth = 0.5 * dt;
    let zminv = 1.0 / zm;
    let dv = (zvolp - zvol0) * zminv;
    let bulk = zr0 * zss * zss;
    let denom = 1.0 + 0.5 * z0per * dv;
    let src = zwrate * dth * zminv;
    (zp + (z0per * src - zr0 * bulk * dv) / denom, zss)
}

/// TTS (temporary triangular subzoning) force of one side.
pub fn tts_force(p: &Params, zarea: f64, zr: f64, zss: f64, sarea: f64, smf: f64, ssurf: V2) -> V2 {
    let svfacinv = zarea / sarea;
    let srho = zr * smf * svfacinv;
    let sstmp = zss.max(p.ssmin);
    let sstmp = p.alfa * sstmp * sstmp;
    let sdp = sstmp * (srho - zr);
    -sdp * ssurf
}

/// What the QCS artificial viscosity needs of one zone, in its own side order: point positions
/// and velocities (`x[k]`, `u[k]` at point `k` = first point of side `k`), edge midpoints and
/// lengths per side, zone centre, predicted density and sound speed.
pub struct QcsZone {
    /// Point positions.
    pub x: [V2; 4],
    /// Point velocities.
    pub u: [V2; 4],
    /// Edge midpoints, per side.
    pub ex: [V2; 4],
    /// Edge lengths, per side.
    pub elen: [f64; 4],
    /// Zone centre.
    pub zx: V2,
    /// Density.
    pub zr: f64,
    /// Sound speed.
    pub zss: f64,
}

/// QCS viscous forces of a zone's four sides and the zone's velocity difference for dt.
pub fn qcs_zone(p: &Params, q: &QcsZone) -> ([V2; 4], f64) {
    // zone-centred velocity
    let mut uc = V2::default();
    for k in 0..4 {
        uc += q.u[k];
    }
    let uc = uc / 4.0;
    let mut area = [0.0; 4];
    let mut cos = [0.0; 4];
    let mut div = [0.0; 4];
    let mut evol = [0.0; 4];
    let mut du = [0.0; 4];
    for c in 0..4 {
        // corner c at point c, between side s = c - 1 (edge e1) and side c (edge e2)
        let s = (c + 3) % 4;
        let (p, p1, p2) = (c, s, (c + 1) % 4);
        let up0 = q.u[p];
        let xp0 = q.x[p];
        let up1 = 0.5 * (q.u[p] + q.u[p2]);
        let xp1 = q.ex[c];
        let up2 = uc;
        let xp2 = q.zx;
        let up3 = 0.5 * (q.u[p1] + q.u[p]);
        let xp3 = q.ex[s];
        let cvolume = 0.5 * (xp2 - xp0).cross(xp3 - xp1);
        area[c] = cvolume;
        let v1 = xp3 - xp0;
        let v2 = xp1 - xp0;
        let de1 = q.elen[s];
        let de2 = q.elen[c];
        let minelen = de1.min(de2);
        cos[c] = if minelen < 1e-12 {
            0.0
        } else {
            4.0 * v1.dot(v2) / (de1 * de2)
        };
        div[c] = ((up2 - up0).cross(xp3 - xp1) - (up3 - up1).cross(xp2 - xp0)) / (2.0 * cvolume);
        let dxx1 = 0.5 * (xp1 + xp2 - xp0 - xp3);
        let dxx2 = 0.5 * (xp2 + xp3 - xp0 - xp1);
        let dx1 = dxx1.length();
        let dx2 = dxx2.length();
        let duav = 0.25 * (up0 + up1 + up2 + up3);
        let test1 = (dxx1.dot(duav) * dx2).abs();
        let test2 = (dxx2.dot(duav) * dx1).abs();
        let num = if test1 > test2 { dx1 } else { dx2 };
        let den = if test1 > test2 { dx2 } else { dx1 };
        let r = num / den;
        let ev = (4.0 * cvolume * r).sqrt().min(2.0 * minelen);
        let dv1 = (up1 + up2 - up0 - up3).length2();
        let dv2 = (up2 + up3 - up0 - up1).length2();
        let d = dv1.max(dv2).sqrt();
        evol[c] = if div[c] < 0.0 { ev } else { 0.0 };
        du[c] = if div[c] < 0.0 { d } else { 0.0 };
    }
    let gammap1 = p.qgamma + 1.0;
    let mut qe = [[V2::default(); 2]; 4];
    for c in 0..4 {
        let ztmp2 = p.q2 * 0.25 * gammap1 * du[c];
        let ztmp1 = p.q1 * q.zss;
        let zkur = ztmp2 + (ztmp2 * ztmp2 + ztmp1 * ztmp1).sqrt();
        let rmu = zkur * q.zr * evol[c];
        let rmu = if div[c] > 0.0 { 0.0 } else { rmu };
        let s = (c + 3) % 4;
        let (pp, p1, p2) = (c, s, (c + 1) % 4);
        qe[c][0] = rmu * (q.u[pp] - q.u[p1]) / q.elen[s];
        qe[c][1] = rmu * (q.u[p2] - q.u[pp]) / q.elen[c];
    }
    let mut w = [0.0; 4];
    for c in 0..4 {
        let csin2 = 1.0 - cos[c] * cos[c];
        w[c] = if csin2 < 1e-4 { 0.0 } else { area[c] / csin2 };
        cos[c] = if csin2 < 1e-4 { 0.0 } else { cos[c] };
    }
    let mut sf = [V2::default(); 4];
    for s in 0..4 {
        let (c1, c2) = (s, (s + 1) % 4);
        sf[s] = (w[c1] * (qe[c1][1] + cos[c1] * qe[c1][0])
            + w[c2] * (qe[c2][0] + cos[c2] * qe[c2][1]))
            / q.elen[s];
    }
    let mut dumax: f64 = 0.0;
    for s in 0..4 {
        let dx = q.x[(s + 1) % 4] - q.x[s];
        let dvel = q.u[(s + 1) % 4] - q.u[s];
        let lenx = q.elen[s];
        let dux = dvel.dot(dx);
        let dux = if lenx > 0.0 { dux.abs() / lenx } else { 0.0 };
        dumax = dumax.max(dux);
    }
    (sf, p.q1 * q.zss + 2.0 * p.q2 * dumax)
}

/// Courant and volume-change limits on the next time step of one zone.
pub fn zone_dt(p: &Params, zdl: f64, zdu: f64, zss: f64, zvol: f64, zvol0: f64, dt: f64) -> f64 {
    let cdu = zdu.max(zss.max(FUZZ));
    let courant = zdl * p.cfl / cdu;
    let dvov = ((zvol - zvol0) / zvol0).abs().max(1e-99);
    courant.min(dt * p.cflv / dvov)
}

/// The global time step of cycle `cycle` (1-based) given the last one and the hydro limit.
pub fn global_dt(p: &Params, cycle: usize, dtlast: f64, time: f64, dthydro: f64) -> f64 {
    let mut dt = p.dtmax;
    if cycle == 1 {
        dt = dt.min(p.dtinit);
    } else {
        let rec = p.dtfac * dtlast;
        if rec < dt {
            dt = rec;
        }
    }
    if p.tstop - time < dt {
        dt = p.tstop - time;
    }
    if dthydro < dt {
        dt = dthydro;
    }
    dt
}

/// The state of a sequential run.
#[derive(Clone, Debug)]
pub struct Hydro {
    /// Parameters.
    pub p: Params,
    /// Mesh.
    pub mesh: RectMesh,
    /// Point positions.
    pub px: Vec<V2>,
    /// Point velocities.
    pub pu: Vec<V2>,
    /// Zone densities.
    pub zr: Vec<f64>,
    /// Zone specific internal energies.
    pub ze: Vec<f64>,
    /// Zone pressures (at the last half step).
    pub zp: Vec<f64>,
    /// Zone masses.
    pub zm: Vec<f64>,
    /// Zone total internal energies.
    pub zetot: Vec<f64>,
    /// Zone work rates.
    pub zwrate: Vec<f64>,
    /// Zone volumes.
    pub zvol: Vec<f64>,
    /// Side mass fractions.
    pub smf: Vec<f64>,
    /// Points on the fixed boundaries, with the direction held fixed.
    pub bcs: Vec<(V2, Vec<usize>)>,
    /// Hydro time-step limit from the last cycle.
    pub dtrec: f64,
    /// Last time step.
    pub dt: f64,
    /// Simulated time.
    pub time: f64,
    /// Cycles done.
    pub cycle: usize,
}

/// Geometry of point positions `px` on `mesh`.
pub fn geometry(mesh: &RectMesh, px: &[V2]) -> Geometry {
    let numz = mesh.numz();
    let mut g = Geometry {
        ex: vec![V2::default(); 4 * numz],
        zx: vec![V2::default(); numz],
        sarea: vec![0.0; 4 * numz],
        zarea: vec![0.0; numz],
        zvol: vec![0.0; numz],
    };
    for z in 0..numz {
        let zp = mesh.zone_points(z).map(|q| px[q]);
        let zc = zone_centre(zp);
        g.zx[z] = zc;
        for k in 0..4 {
            let s = side(z, k);
            let (a, b) = (zp[k], zp[(k + 1) % 4]);
            g.ex[s] = edge_mid(a, b);
            let (sa, sv) = side_area_vol(a, b, zc);
            assert!(sv > 0.0, "negative side volume in zone {z}");
            g.sarea[s] = sa;
            g.zarea[z] += sa;
            g.zvol[z] += sv;
        }
    }
    g
}

/// Points with coordinate `axis` equal to `c` (within 1e-12).
pub fn plane(px: &[V2], axis: usize, c: f64) -> Vec<usize> {
    (0..px.len())
        .filter(|&q| ((if axis == 0 { px[q].x } else { px[q].y }) - c).abs() < 1e-12)
        .collect()
}

impl Hydro {
    /// The initial state of problem `p`.
    pub fn new(p: &Params) -> Hydro {
        let mesh = RectMesh::new(p);
        let px = mesh.px.clone();
        let g = geometry(&mesh, &px);
        let numz = mesh.numz();
        let smf = (0..4 * numz).map(|s| g.sarea[s] / g.zarea[s / 4]).collect();
        let mut zr = vec![p.rinit; numz];
        let mut ze = vec![p.einit; numz];
        for z in 0..numz {
            if p.in_subregion(g.zx[z]) {
                zr[z] = p.rinitsub;
                ze[z] = p.einitsub;
            }
        }
        let zm: Vec<f64> = (0..numz).map(|z| zr[z] * g.zvol[z]).collect();
        let zetot = (0..numz).map(|z| ze[z] * zm[z]).collect();
        let mut bcs = Vec::new();
        for &c in &p.bcx {
            bcs.push((V2::new(1.0, 0.0), plane(&px, 0, c)));
        }
        for &c in &p.bcy {
            bcs.push((V2::new(0.0, 1.0), plane(&px, 1, c)));
        }
        Hydro {
            p: p.clone(),
            pu: vec![V2::default(); px.len()],
            px,
            mesh,
            zr,
            ze,
            zp: vec![0.0; numz],
            zm,
            zetot,
            zwrate: vec![0.0; numz],
            zvol: g.zvol,
            smf,
            bcs,
            dtrec: 1e99,
            dt: 0.0,
            time: 0.0,
            cycle: 0,
        }
    }

    /// Runs cycles until `cstop` cycles or `tstop` time.
    pub fn run(&mut self) {
        while self.advance() {}
    }

    /// Runs the next cycle, if the run is not over (`cstop` cycles or `tstop` time); returns
    /// whether it ran one.
    pub fn advance(&mut self) -> bool {
        if self.cycle >= self.p.cstop || self.time >= self.p.tstop {
            return false;
        }
        self.cycle += 1;
        self.dt = global_dt(&self.p, self.cycle, self.dt, self.time, self.dtrec);
        self.step(self.dt);
        self.time += self.dt;
        true
    }

    /// One predictor-corrector cycle of length `dt`.
    pub fn step(&mut self, dt: f64) {
        let p = self.p.clone();
        let mesh = &self.mesh;
        let (nump, numz, nums) = (mesh.nump(), mesh.numz(), 4 * mesh.numz());
        let px0 = self.px.clone();
        let mut pu0 = self.pu.clone();
        let zvol0 = self.zvol.clone();
        // predictor: half-step positions and geometry
        let pxp: Vec<V2> = (0..nump).map(|q| px0[q] + pu0[q] * (0.5 * dt)).collect();
        let gp = geometry(mesh, &pxp);
        let elen: Vec<f64> = (0..nums)
            .map(|s| (pxp[mesh.p2(s)] - pxp[mesh.p1(s)]).length())
            .collect();
        let mut zdl = vec![1e99_f64; numz];
        for s in 0..nums {
            let sdl = 4.0 * gp.sarea[s] / elen[s];
            zdl[s / 4] = zdl[s / 4].min(sdl);
        }
        let zrp: Vec<f64> = (0..numz).map(|z| self.zm[z] / gp.zvol[z]).collect();
        let mut cmaswt = vec![0.0; nums];
        for s in 0..nums {
            let z = s / 4;
            cmaswt[s] = zrp[z] * gp.zarea[z] * 0.5 * (self.smf[s] + self.smf[prev(s)]);
        }
        let mut zss = vec![0.0; numz];
        for z in 0..numz {
            let (zp, ss) = state_at_half(
                &p,
                self.zr[z],
                self.ze[z],
                gp.zvol[z],
                zvol0[z],
                self.zwrate[z],
                self.zm[z],
                dt,
            );
            self.zp[z] = zp;
            zss[z] = ss;
        }
        let mut sfp = vec![V2::default(); nums];
        let mut sft = vec![V2::default(); nums];
        let mut sfq = vec![V2::default(); nums];
        let mut zdu = vec![0.0; numz];
        for z in 0..numz {
            let pts = mesh.zone_points(z);
            for k in 0..4 {
                let s = side(z, k);
                let ssurf = (gp.ex[s] - gp.zx[z]).rot_ccw();
                sfp[s] = -self.zp[z] * ssurf;
                sft[s] = tts_force(
                    &p,
                    gp.zarea[z],
                    zrp[z],
                    zss[z],
                    gp.sarea[s],
                    self.smf[s],
                    ssurf,
                );
            }
            let q = QcsZone {
                x: pts.map(|q| pxp[q]),
                u: pts.map(|q| pu0[q]),
                ex: [0, 1, 2, 3].map(|k| gp.ex[side(z, k)]),
                elen: [0, 1, 2, 3].map(|k| elen[side(z, k)]),
                zx: gp.zx[z],
                zr: zrp[z],
                zss: zss[z],
            };
            let (f, du) = qcs_zone(&p, &q);
            sfq[4 * z..4 * z + 4].copy_from_slice(&f);
            zdu[z] = du;
        }
        let ftot = |s: usize| sfp[s] + sfq[s] + sft[s];
        let cftot: Vec<V2> = (0..nums).map(|s| ftot(s) - ftot(prev(s))).collect();
        // sum corners to points, in corner order
        let mut pmass = vec![0.0; nump];
        let mut pf = vec![V2::default(); nump];
        for c in 0..nums {
            let q = mesh.p1(c);
            pmass[q] += cmaswt[c];
            pf[q] += cftot[c];
        }
        for (dir, pts) in &self.bcs {
            for &q in pts {
                pu0[q] = pu0[q].project(*dir);
                pf[q] = pf[q].project(*dir);
            }
        }
        // corrector
        for q in 0..nump {
            let pa = pf[q] / pmass[q].max(FUZZ);
            self.pu[q] = pu0[q] + pa * dt;
            self.px[q] = px0[q] + 0.5 * (self.pu[q] + pu0[q]) * dt;
        }
        let g = geometry(mesh, &self.px);
        let mut zw = vec![0.0; numz];
        let dth = 0.5 * dt;
        for s in 0..nums {
            let (p1, p2, z) = (mesh.p1(s), mesh.p2(s), s / 4);
            let sftot = sfp[s] + sfq[s];
            let sd1 = sftot.dot(pu0[p1] + self.pu[p1]);
            let sd2 = (-sftot).dot(pu0[p2] + self.pu[p2]);
            let dwork = -dth * (sd1 * pxp[p1].x + sd2 * pxp[p2].x);
            self.zetot[z] += dwork;
            zw[z] += dwork;
        }
        let mut dtrec: f64 = 1e99;
        for z in 0..numz {
            let dvol = g.zvol[z] - zvol0[z];
            self.zwrate[z] = (zw[z] + self.zp[z] * dvol) * (1.0 / dt);
            self.ze[z] = self.zetot[z] / (self.zm[z] + FUZZ);
            self.zr[z] = self.zm[z] / g.zvol[z];
            dtrec = dtrec.min(zone_dt(&p, zdl[z], zdu[z], zss[z], g.zvol[z], zvol0[z], dt));
        }
        self.zvol = g.zvol;
        self.dtrec = dtrec;
    }
}
