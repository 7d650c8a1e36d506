//! Real-GPU variants of PENNANT's tasks (feature `cuda`): NVRTC kernels on the instances'
//! device memory (FBMEM of this GPU or a peer, or ZCMEM), one thread per zone or point.
//!
//! Bitwise the CPU variants' results:
//! - every floating-point operation of [`super::seq`]'s formulas is written with the
//!   round-to-nearest intrinsics (`__dadd_rn`, `__dmul_rn`, `__ddiv_rn`, `__dsqrt_rn`, through
//!   the `R` type of the source), so NVRTC cannot contract them into fused multiply-adds, in the
//!   host code's order of evaluation; the method needs no other math function than `sqrt`,
//!   `min`, `max` and `abs`, all exact;
//! - `sum_to_points` gathers instead of scattering: the thread of a point adds the corners of
//!   the piece at that point in corner order, as the host loop does, writes private points and
//!   adds the sums into the task's reduction instance of the ghost points (no atomics). The
//!   runtime folds the reduction instances of the pieces sharing a point into it, as on CPUs;
//! - `calc_dt`'s minimum is exact in any order (a block minimum per block, the minimum of the
//!   blocks on the host).
//!
//! So a run's zone fields are bitwise the same whether its pieces run on CPUs, GPUs or both.

// Kernel argument lists follow the kernels' parameter lists one for one.
#![allow(clippy::too_many_arguments)]

use super::kernels::Setup;
use runtime::cuda::{DeviceBuffer, Gpu, KArg, Kernel};
use runtime::{Rect, TaskCtx, TaskError, Value};
use std::sync::Arc;

/// The kernels, in CUDA C++. Field pointers point at the element of index `*b` (the
/// argument's lowest index); strides are in bytes.
const SOURCE: &str = r#"
typedef long long ll;

// A double whose arithmetic is never contracted (round-to-nearest intrinsics).
struct R {
  double v;
  __device__ R() : v(0.0) {}
  __device__ R(double x) : v(x) {}
};
__device__ __forceinline__ R operator+(R a, R b) { return R(__dadd_rn(a.v, b.v)); }
__device__ __forceinline__ R operator-(R a, R b) { return R(__dsub_rn(a.v, b.v)); }
__device__ __forceinline__ R operator*(R a, R b) { return R(__dmul_rn(a.v, b.v)); }
__device__ __forceinline__ R operator/(R a, R b) { return R(__ddiv_rn(a.v, b.v)); }
__device__ __forceinline__ R operator-(R a) { return R(-a.v); }
__device__ __forceinline__ bool operator<(R a, R b) { return a.v < b.v; }
__device__ __forceinline__ bool operator>(R a, R b) { return a.v > b.v; }
__device__ __forceinline__ bool operator<=(R a, R b) { return a.v <= b.v; }
__device__ __forceinline__ R rmin(R a, R b) { return R(fmin(a.v, b.v)); }
__device__ __forceinline__ R rmax(R a, R b) { return R(fmax(a.v, b.v)); }
__device__ __forceinline__ R rabs(R a) { return R(fabs(a.v)); }
__device__ __forceinline__ R rroot(R a) { return R(__dsqrt_rn(a.v)); }

struct V2 {
  R x, y;
  __device__ V2() {}
  __device__ V2(R a, R b) : x(a), y(b) {}
};
__device__ __forceinline__ V2 operator+(V2 a, V2 b) { return V2(a.x + b.x, a.y + b.y); }
__device__ __forceinline__ V2 operator-(V2 a, V2 b) { return V2(a.x - b.x, a.y - b.y); }
__device__ __forceinline__ V2 operator-(V2 a) { return V2(-a.x, -a.y); }
__device__ __forceinline__ V2 operator*(V2 a, R s) { return V2(a.x * s, a.y * s); }
__device__ __forceinline__ V2 operator*(R s, V2 a) { return V2(s * a.x, s * a.y); }
__device__ __forceinline__ V2 operator/(V2 a, R s) { return V2(a.x / s, a.y / s); }
__device__ __forceinline__ R dot(V2 a, V2 b) { return a.x * b.x + a.y * b.y; }
__device__ __forceinline__ R cross(V2 a, V2 b) { return a.x * b.y - a.y * b.x; }
__device__ __forceinline__ R length2(V2 a) { return a.x * a.x + a.y * a.y; }
__device__ __forceinline__ R length(V2 a) { return rroot(a.x * a.x + a.y * a.y); }
__device__ __forceinline__ V2 rot_ccw(V2 a) { return V2(-a.y, a.x); }
__device__ __forceinline__ V2 project(V2 a, V2 u) { return a - u * dot(a, u); }

#define AT(p, st, i) (*(double*)((p) + (ll)(i) * (st)))
#define LD(p, st, i) R(AT(p, st, i))
#define LOOP(n) for (ll t = (ll)blockIdx.x * blockDim.x + threadIdx.x; t < (n); \
                     t += (ll)gridDim.x * blockDim.x)

// Point fields of a piece: private points (one range) and ghost points.
struct PP { ll plo, phi, pst, glo, gst; };
__device__ __forceinline__ R pld(const PP& a, const char* p, const char* g, ll q) {
  if (q >= a.plo && q <= a.phi) return R(*(const double*)(p + (q - a.plo) * a.pst));
  return R(*(const double*)(g + (q - a.glo) * a.gst));
}

__device__ __forceinline__ void zone_points(ll z, ll nzx, ll* pts) {
  ll npx = nzx + 1;
  ll p0 = (z / nzx) * npx + z % nzx;
  pts[0] = p0; pts[1] = p0 + 1; pts[2] = p0 + npx + 1; pts[3] = p0 + npx;
}
// Initial position of point q.
__device__ __forceinline__ V2 px_init(ll q, ll npx, R dx, R dy) {
  return V2(dx * R((double)(q % npx)), dy * R((double)(q / npx)));
}
__device__ __forceinline__ V2 zone_centre(const V2* p) {
  V2 c(R(0.0), R(0.0));
  for (int k = 0; k < 4; k++) c = c + p[k];
  return c * R(0.25);  // = c / 4 exactly, as an uncontractible multiply
}
__device__ __forceinline__ void side_area_vol(V2 a, V2 b, V2 zc, R* sa, R* sv) {
  *sa = R(0.5) * cross(b - a, zc - a);
  *sv = R(1.0 / 3.0) * *sa * (a.x + b.x + zc.x);
}
__device__ __forceinline__ V2 edge_mid(V2 a, V2 b) { return R(0.5) * (a + b); }

extern "C" __global__ void pn_fill(char* p, ll st, ll n, double v) {
  LOOP(n) { AT(p, st, t) = v; }
}

extern "C" __global__ void pn_init_zones(ll z0, ll n, ll zb, ll zst, ll sb, ll sst, ll nzx,
    double dx, double dy, ll hassub, double sx0, double sx1, double sy0, double sy1,
    double rinit, double einit, double rinitsub, double einitsub,
    char* zr, char* ze, char* zm, char* zetot, char* zvol, char* zvol0, char* smf) {
  LOOP(n) {
    ll z = z0 + t, pts[4];
    zone_points(z, nzx, pts);
    V2 zp[4];
    for (int k = 0; k < 4; k++) zp[k] = px_init(pts[k], nzx + 1, R(dx), R(dy));
    V2 zc = zone_centre(zp);
    R zarea(0.0), vol(0.0), sarea[4];
    for (int k = 0; k < 4; k++) {
      R sa, sv;
      side_area_vol(zp[k], zp[(k + 1) % 4], zc, &sa, &sv);
      sarea[k] = sa;
      zarea = zarea + sa;
      vol = vol + sv;
    }
    for (int k = 0; k < 4; k++) AT(smf, sst, 4 * z + k - sb) = (sarea[k] / zarea).v;
    bool sub = hassub && zc.x.v > sx0 && zc.x.v < sx1 && zc.y.v > sy0 && zc.y.v < sy1;
    R r(sub ? rinitsub : rinit), e(sub ? einitsub : einit);
    R m = r * vol;
    ll i = z - zb;
    AT(zr, zst, i) = r.v;
    AT(ze, zst, i) = e.v;
    AT(zm, zst, i) = m.v;
    AT(zetot, zst, i) = (e * m).v;
    AT(zvol, zst, i) = vol.v;
    AT(zvol0, zst, i) = vol.v;
  }
}

extern "C" __global__ void pn_init_points(ll q0, ll n, ll qb, ll st, ll npx, double dx,
    double dy, char* px, char* py) {
  LOOP(n) {
    ll q = q0 + t;
    V2 x = px_init(q, npx, R(dx), R(dy));
    AT(px, st, q - qb) = x.x.v;
    AT(py, st, q - qb) = x.y.v;
  }
}

extern "C" __global__ void pn_adv_half(ll q0, ll n, ll qb, ll st, double dth,
    char* px_x, char* px_y, char* pu_x, char* pu_y, char* pu0_x, char* pu0_y,
    char* pxp_x, char* pxp_y, char* pf_x, char* pf_y, char* pmass) {
  LOOP(n) {
    ll i = q0 + t - qb;
    V2 px(LD(px_x, st, i), LD(px_y, st, i)), pu(LD(pu_x, st, i), LD(pu_y, st, i));
    V2 pxp = px + pu * R(dth);
    AT(pu0_x, st, i) = pu.x.v;
    AT(pu0_y, st, i) = pu.y.v;
    AT(pxp_x, st, i) = pxp.x.v;
    AT(pxp_y, st, i) = pxp.y.v;
    AT(pf_x, st, i) = 0.0;
    AT(pf_y, st, i) = 0.0;
    AT(pmass, st, i) = 0.0;
  }
}

// flag: the first zone with a non-positive side volume, as 2^62 - zone (0: none).
extern "C" __global__ void pn_ctrs(ll z0, ll n, ll zb, ll zst, ll sb, ll sst, ll nzx,
    ll plo, ll phi, ll pst, ll glo, ll gst, char* pxp_x, char* gxp_x, char* pxp_y, char* gxp_y,
    char* ex_x, char* ex_y, char* sareap, char* elen,
    char* zx_x, char* zx_y, char* zareap, char* zvolp, char* zdl,
    unsigned long long* flag) {
  PP a = {plo, phi, pst, glo, gst};
  LOOP(n) {
    ll z = z0 + t, pts[4];
    zone_points(z, nzx, pts);
    V2 zp[4];
    for (int k = 0; k < 4; k++)
      zp[k] = V2(pld(a, pxp_x, gxp_x, pts[k]), pld(a, pxp_y, gxp_y, pts[k]));
    V2 zc = zone_centre(zp);
    R za(0.0), zv(0.0), dl(1e99);
    for (int k = 0; k < 4; k++) {
      ll s = 4 * z + k - sb;
      V2 pa = zp[k], pb = zp[(k + 1) % 4];
      V2 e = edge_mid(pa, pb);
      AT(ex_x, sst, s) = e.x.v;
      AT(ex_y, sst, s) = e.y.v;
      R sa, sv;
      side_area_vol(pa, pb, zc, &sa, &sv);
      if (sv <= R(0.0)) atomicMax(flag, (1ULL << 62) - (unsigned long long)z);
      AT(sareap, sst, s) = sa.v;
      za = za + sa;
      zv = zv + sv;
      R el = length(pb - pa);
      AT(elen, sst, s) = el.v;
      dl = rmin(dl, R(4.0) * sa / el);
    }
    ll i = z - zb;
    AT(zx_x, zst, i) = zc.x.v;
    AT(zx_y, zst, i) = zc.y.v;
    AT(zareap, zst, i) = za.v;
    AT(zvolp, zst, i) = zv.v;
    AT(zdl, zst, i) = dl.v;
  }
}

extern "C" __global__ void pn_forces(ll z0, ll n, ll zb, ll zst, ll sb, ll sst, double dt,
    double gamma, double ssmin, double alfa,
    char* zr, char* ze, char* zm, char* zvol, char* zwrate, char* zvolp, char* zareap,
    char* zx_x, char* zx_y, char* zrp_o, char* zp_o, char* zss_o,
    char* smf, char* sareap, char* ex_x, char* ex_y, char* cmaswt,
    char* sfp_x, char* sfp_y, char* sft_x, char* sft_y) {
  LOOP(n) {
    ll z = z0 + t, i = z - zb;
    R zarea = LD(zareap, zst, i), vp = LD(zvolp, zst, i), mass = LD(zm, zst, i);
    R rp = mass / vp;
    AT(zrp_o, zst, i) = rp.v;
    for (int k = 0; k < 4; k++) {
      ll s = 4 * z + k - sb;
      ll sp = 4 * z + (k + 3) % 4 - sb;
      AT(cmaswt, sst, s) = (rp * zarea * R(0.5) * (LD(smf, sst, s) + LD(smf, sst, sp))).v;
    }
    // state_at_half, with eos
    R r0 = LD(zr, zst, i), e0 = LD(ze, zst, i);
    R gm1 = R(gamma) - R(1.0);
    R ss2 = rmax(R(ssmin) * R(ssmin), R(1e-99));
    R ex = rmax(e0, R(0.0));
    R pex = gm1 * r0 * ex;
    R prex = gm1 * ex;
    R perx = gm1 * r0;
    R csqd = rmax(ss2, prex + perx * pex / (r0 * r0));
    R zss = rroot(csqd);
    R dth = R(0.5) * R(dt);
    R zminv = R(1.0) / mass;
    R dv = (vp - LD(zvol, zst, i)) * zminv;
    R bulk = r0 * zss * zss;
    R denom = R(1.0) + R(0.5) * perx * dv;
    R src = LD(zwrate, zst, i) * dth * zminv;
    R p = pex + (perx * src - r0 * bulk * dv) / denom;
    AT(zp_o, zst, i) = p.v;
    AT(zss_o, zst, i) = zss.v;
    V2 zx(LD(zx_x, zst, i), LD(zx_y, zst, i));
    R sstmp = rmax(zss, R(ssmin));
    sstmp = R(alfa) * sstmp * sstmp;
    for (int k = 0; k < 4; k++) {
      ll s = 4 * z + k - sb;
      V2 ssurf = rot_ccw(V2(LD(ex_x, sst, s), LD(ex_y, sst, s)) - zx);
      V2 fp = -p * ssurf;
      AT(sfp_x, sst, s) = fp.x.v;
      AT(sfp_y, sst, s) = fp.y.v;
      // tts_force
      R svfacinv = zarea / LD(sareap, sst, s);
      R srho = rp * LD(smf, sst, s) * svfacinv;
      R sdp = sstmp * (srho - rp);
      V2 ft = -sdp * ssurf;
      AT(sft_x, sst, s) = ft.x.v;
      AT(sft_y, sst, s) = ft.y.v;
    }
  }
}

extern "C" __global__ void pn_qcs(ll z0, ll n, ll zb, ll zst, ll sb, ll sst, ll nzx,
    double q1, double q2, double qgamma,
    ll plo, ll phi, ll pst, ll glo, ll gst,
    char* pxp_x, char* gxp_x, char* pxp_y, char* gxp_y,
    char* pu0_x, char* gu0_x, char* pu0_y, char* gu0_y,
    char* ex_x, char* ex_y, char* elen_, char* sfq_x, char* sfq_y,
    char* zx_x, char* zx_y, char* zrp, char* zss_, char* zdu) {
  PP a = {plo, phi, pst, glo, gst};
  LOOP(n) {
    ll z = z0 + t, i = z - zb, pts[4];
    zone_points(z, nzx, pts);
    V2 x[4], u[4], ex[4];
    R elen[4];
    for (int k = 0; k < 4; k++) {
      x[k] = V2(pld(a, pxp_x, gxp_x, pts[k]), pld(a, pxp_y, gxp_y, pts[k]));
      u[k] = V2(pld(a, pu0_x, gu0_x, pts[k]), pld(a, pu0_y, gu0_y, pts[k]));
      ll s = 4 * z + k - sb;
      ex[k] = V2(LD(ex_x, sst, s), LD(ex_y, sst, s));
      elen[k] = LD(elen_, sst, s);
    }
    V2 zx(LD(zx_x, zst, i), LD(zx_y, zst, i));
    R zr = LD(zrp, zst, i), zss = LD(zss_, zst, i);
    V2 uc(R(0.0), R(0.0));
    for (int k = 0; k < 4; k++) uc = uc + u[k];
    uc = uc * R(0.25);
    R area[4], cs[4], dv[4], evol[4], du[4];
    for (int c = 0; c < 4; c++) {
      int s = (c + 3) % 4, p = c, p1 = s, p2 = (c + 1) % 4;
      V2 up0 = u[p], xp0 = x[p];
      V2 up1 = R(0.5) * (u[p] + u[p2]), xp1 = ex[c];
      V2 up2 = uc, xp2 = zx;
      V2 up3 = R(0.5) * (u[p1] + u[p]), xp3 = ex[s];
      R cvolume = R(0.5) * cross(xp2 - xp0, xp3 - xp1);
      area[c] = cvolume;
      V2 v1 = xp3 - xp0, v2 = xp1 - xp0;
      R de1 = elen[s], de2 = elen[c];
      R minelen = rmin(de1, de2);
      cs[c] = minelen < R(1e-12) ? R(0.0) : R(4.0) * dot(v1, v2) / (de1 * de2);
      dv[c] = (cross(up2 - up0, xp3 - xp1) - cross(up3 - up1, xp2 - xp0)) / (R(2.0) * cvolume);
      V2 dxx1 = R(0.5) * (xp1 + xp2 - xp0 - xp3);
      V2 dxx2 = R(0.5) * (xp2 + xp3 - xp0 - xp1);
      R dx1 = length(dxx1), dx2 = length(dxx2);
      V2 duav = R(0.25) * (up0 + up1 + up2 + up3);
      R test1 = rabs(dot(dxx1, duav) * dx2);
      R test2 = rabs(dot(dxx2, duav) * dx1);
      R num = test1 > test2 ? dx1 : dx2;
      R den = test1 > test2 ? dx2 : dx1;
      R r = num / den;
      R ev = rmin(rroot(R(4.0) * cvolume * r), R(2.0) * minelen);
      R dv1 = length2(up1 + up2 - up0 - up3);
      R dv2 = length2(up2 + up3 - up0 - up1);
      R d = rroot(rmax(dv1, dv2));
      evol[c] = dv[c] < R(0.0) ? ev : R(0.0);
      du[c] = dv[c] < R(0.0) ? d : R(0.0);
    }
    R gammap1 = R(qgamma) + R(1.0);
    V2 qe[4][2];
    for (int c = 0; c < 4; c++) {
      R ztmp2 = R(q2) * R(0.25) * gammap1 * du[c];
      R ztmp1 = R(q1) * zss;
      R zkur = ztmp2 + rroot(ztmp2 * ztmp2 + ztmp1 * ztmp1);
      R rmu = zkur * zr * evol[c];
      rmu = dv[c] > R(0.0) ? R(0.0) : rmu;
      int s = (c + 3) % 4, pp = c, p1 = s, p2 = (c + 1) % 4;
      qe[c][0] = rmu * (u[pp] - u[p1]) / elen[s];
      qe[c][1] = rmu * (u[p2] - u[pp]) / elen[c];
    }
    R w[4];
    for (int c = 0; c < 4; c++) {
      R csin2 = R(1.0) - cs[c] * cs[c];
      w[c] = csin2 < R(1e-4) ? R(0.0) : area[c] / csin2;
      cs[c] = csin2 < R(1e-4) ? R(0.0) : cs[c];
    }
    for (int s = 0; s < 4; s++) {
      int c1 = s, c2 = (s + 1) % 4;
      V2 sf = (w[c1] * (qe[c1][1] + cs[c1] * qe[c1][0])
               + w[c2] * (qe[c2][0] + cs[c2] * qe[c2][1])) / elen[s];
      ll so = 4 * z + s - sb;
      AT(sfq_x, sst, so) = sf.x.v;
      AT(sfq_y, sst, so) = sf.y.v;
    }
    R dumax(0.0);
    for (int s = 0; s < 4; s++) {
      V2 dx = x[(s + 1) % 4] - x[s];
      V2 dvel = u[(s + 1) % 4] - u[s];
      R lenx = elen[s];
      R dux = dot(dvel, dx);
      dux = lenx > R(0.0) ? rabs(dux) / lenx : R(0.0);
      dumax = rmax(dumax, dux);
    }
    AT(zdu, zst, i) = (R(q1) * zss + R(2.0) * R(q2) * dumax).v;
  }
}

// One thread per point: the corners of sides slo..=shi at the point, in corner order.
// reduce: add into the (reduction) instance; else overwrite.
extern "C" __global__ void pn_sum(ll q0, ll n, ll qb, ll st, ll reduce, ll nzx, ll nzy,
    ll slo, ll shi, ll sst, char* cmaswt, char* sfp_x, char* sfp_y, char* sfq_x, char* sfq_y,
    char* sft_x, char* sft_y, char* pmass, char* pf_x, char* pf_y) {
  LOOP(n) {
    ll q = q0 + t, npx = nzx + 1;
    ll pi = q % npx, pj = q / npx;
    R m(0.0);
    V2 f(R(0.0), R(0.0));
    // zones (pi-1, pj-1), (pi, pj-1), (pi-1, pj), (pi, pj): q is their point 2, 3, 1, 0
    const int di[4] = {-1, 0, -1, 0}, dj[4] = {-1, -1, 0, 0}, kk[4] = {2, 3, 1, 0};
    for (int e = 0; e < 4; e++) {
      ll zi = pi + di[e], zj = pj + dj[e];
      if (zi < 0 || zi >= nzx || zj < 0 || zj >= nzy) continue;
      ll c = 4 * (zj * nzx + zi) + kk[e];
      if (c < slo || c > shi) continue;
      ll cp = (c & ~3LL) | ((c + 3) & 3);
      ll a = c - slo, b = cp - slo;
      V2 fc = V2(LD(sfp_x, sst, a), LD(sfp_y, sst, a)) + V2(LD(sfq_x, sst, a), LD(sfq_y, sst, a))
              + V2(LD(sft_x, sst, a), LD(sft_y, sst, a));
      V2 fb = V2(LD(sfp_x, sst, b), LD(sfp_y, sst, b)) + V2(LD(sfq_x, sst, b), LD(sfq_y, sst, b))
              + V2(LD(sft_x, sst, b), LD(sft_y, sst, b));
      m = m + LD(cmaswt, sst, a);
      f = f + (fc - fb);
    }
    ll i = q - qb;
    if (reduce) {
      AT(pmass, st, i) = (LD(pmass, st, i) + m).v;
      AT(pf_x, st, i) = (LD(pf_x, st, i) + f.x).v;
      AT(pf_y, st, i) = (LD(pf_y, st, i) + f.y).v;
    } else {
      AT(pmass, st, i) = m.v;
      AT(pf_x, st, i) = f.x.v;
      AT(pf_y, st, i) = f.y.v;
    }
  }
}

// One fixed boundary: points whose initial coordinate `axis` is `c` lose the component of
// velocity and force along `dir`.
extern "C" __global__ void pn_bc(ll q0, ll n, ll qb, ll st, ll npx, double dx, double dy,
    double dirx, double diry, ll axis, double c,
    char* pu0_x, char* pu0_y, char* pf_x, char* pf_y) {
  LOOP(n) {
    ll q = q0 + t, i = q - qb;
    V2 x0 = px_init(q, npx, R(dx), R(dy));
    R coord = axis == 0 ? x0.x : x0.y;
    if (rabs(coord - R(c)) < R(1e-12)) {
      V2 dir = V2(R(dirx), R(diry));
      V2 u = project(V2(LD(pu0_x, st, i), LD(pu0_y, st, i)), dir);
      V2 f = project(V2(LD(pf_x, st, i), LD(pf_y, st, i)), dir);
      AT(pu0_x, st, i) = u.x.v;
      AT(pu0_y, st, i) = u.y.v;
      AT(pf_x, st, i) = f.x.v;
      AT(pf_y, st, i) = f.y.v;
    }
  }
}

extern "C" __global__ void pn_adv_full(ll q0, ll n, ll qb, ll st, double dt,
    char* px_x, char* px_y, char* pu_x, char* pu_y, char* pu0_x, char* pu0_y,
    char* pf_x, char* pf_y, char* pmass) {
  LOOP(n) {
    ll i = q0 + t - qb;
    V2 px0(LD(px_x, st, i), LD(px_y, st, i)), pu0(LD(pu0_x, st, i), LD(pu0_y, st, i));
    V2 pf(LD(pf_x, st, i), LD(pf_y, st, i));
    V2 pa = pf / rmax(LD(pmass, st, i), R(1e-99));
    V2 u = pu0 + pa * R(dt);
    V2 x = px0 + R(0.5) * (u + pu0) * R(dt);
    AT(pu_x, st, i) = u.x.v;
    AT(pu_y, st, i) = u.y.v;
    AT(px_x, st, i) = x.x.v;
    AT(px_y, st, i) = x.y.v;
  }
}

extern "C" __global__ void pn_update(ll z0, ll n, ll zb, ll zst, ll sb, ll sst, ll nzx,
    double dt, ll plo, ll phi, ll pst, ll glo, ll gst,
    char* px_x, char* gx_x, char* px_y, char* gx_y, char* pxp_x, char* gxp_x,
    char* pxp_y, char* gxp_y, char* pu_x, char* gu_x, char* pu_y, char* gu_y,
    char* pu0_x, char* gu0_x, char* pu0_y, char* gu0_y,
    char* sfp_x, char* sfp_y, char* sfq_x, char* sfq_y,
    char* zetot, char* zm, char* zp, char* zvol, char* zvol0, char* zwrate, char* ze,
    char* zr, unsigned long long* flag) {
  PP a = {plo, phi, pst, glo, gst};
  R dth = R(0.5) * R(dt);
  LOOP(n) {
    ll z = z0 + t, i = z - zb, pts[4];
    zone_points(z, nzx, pts);
    V2 zpx[4], zpxp[4], zpu[4], zpu0[4];
    for (int k = 0; k < 4; k++) {
      ll q = pts[k];
      zpx[k] = V2(pld(a, px_x, gx_x, q), pld(a, px_y, gx_y, q));
      zpxp[k] = V2(pld(a, pxp_x, gxp_x, q), pld(a, pxp_y, gxp_y, q));
      zpu[k] = V2(pld(a, pu_x, gu_x, q), pld(a, pu_y, gu_y, q));
      zpu0[k] = V2(pld(a, pu0_x, gu0_x, q), pld(a, pu0_y, gu0_y, q));
    }
    V2 zc = zone_centre(zpx);
    R v(0.0);
    for (int k = 0; k < 4; k++) {
      R sa, sv;
      side_area_vol(zpx[k], zpx[(k + 1) % 4], zc, &sa, &sv);
      if (sv <= R(0.0)) atomicMax(flag, (1ULL << 62) - (unsigned long long)z);
      v = v + sv;
    }
    R et = LD(zetot, zst, i), zw(0.0);
    for (int k = 0; k < 4; k++) {
      ll s = 4 * z + k - sb;
      int k2 = (k + 1) % 4;
      V2 sftot = V2(LD(sfp_x, sst, s), LD(sfp_y, sst, s)) + V2(LD(sfq_x, sst, s), LD(sfq_y, sst, s));
      R sd1 = dot(sftot, zpu0[k] + zpu[k]);
      R sd2 = dot(-sftot, zpu0[k2] + zpu[k2]);
      R dwork = -dth * (sd1 * zpxp[k].x + sd2 * zpxp[k2].x);
      et = et + dwork;
      zw = zw + dwork;
    }
    R old = LD(zvol, zst, i), mass = LD(zm, zst, i);
    AT(zetot, zst, i) = et.v;
    R dvol = v - old;
    AT(zwrate, zst, i) = ((zw + LD(zp, zst, i) * dvol) * (R(1.0) / R(dt))).v;
    AT(ze, zst, i) = (et / (mass + R(1e-99))).v;
    AT(zr, zst, i) = (mass / v).v;
    AT(zvol0, zst, i) = old.v;
    AT(zvol, zst, i) = v.v;
  }
}

// The smallest time-step limit of zones z0..z0+n, one value per block (256 threads).
extern "C" __global__ void pn_dt(ll z0, ll n, ll zb, ll zst, double dt, double cfl,
    double cflv, char* zdl, char* zdu, char* zss, char* zvol, char* zvol0, double* out) {
  __shared__ double sm[256];
  R m(1e99);
  LOOP(n) {
    ll i = z0 + t - zb;
    R cdu = rmax(LD(zdu, zst, i), rmax(LD(zss, zst, i), R(1e-99)));
    R courant = LD(zdl, zst, i) * R(cfl) / cdu;
    R v0 = LD(zvol0, zst, i);
    R dvov = rmax(rabs((LD(zvol, zst, i) - v0) / v0), R(1e-99));
    m = rmin(m, rmin(courant, R(dt) * R(cflv) / dvov));
  }
  sm[threadIdx.x] = m.v;
  __syncthreads();
  for (int h = blockDim.x / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) sm[threadIdx.x] = fmin(sm[threadIdx.x], sm[threadIdx.x + h]);
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = sm[0];
}
"#;

/// Threads per block of every kernel (`pn_dt`'s shared array has this size).
const THREADS: u32 = 256;

fn err(ctx: &TaskCtx, e: impl std::fmt::Display) -> TaskError {
    TaskError(format!("task `{}` on {}: {e}", ctx.task_name(), ctx.proc()))
}

/// Blocks for `n` elements in a grid-stride loop.
fn blocks(gpu: &Gpu, n: i64) -> u32 {
    (n.max(1) as u64)
        .div_ceil(u64::from(THREADS))
        .clamp(1, u64::from(gpu.sms.max(1)) * 16) as u32
}

/// The fields of one 1-D region argument on the device: its bounds, the byte stride shared by
/// its fields, and a pointer per field at index `lo`. An empty argument has `lo > hi`.
struct Dev {
    lo: i64,
    hi: i64,
    st: i64,
    ptrs: Vec<u64>,
}

impl Dev {
    fn new(ctx: &TaskCtx, arg: usize, fields: &[&str]) -> Result<Dev, TaskError> {
        if ctx.space(arg)?.is_empty() {
            return Ok(Dev {
                lo: 0,
                hi: -1,
                st: 0,
                ptrs: vec![0; fields.len()],
            });
        }
        let mut st = None;
        let mut ptrs = Vec::with_capacity(fields.len());
        for f in fields {
            let d = ctx.device_field::<f64>(arg, *f)?;
            let s = (d.strides[0] * d.elem_stride) as i64;
            if *st.get_or_insert(s) != s {
                return Err(err(ctx, "the fields of one argument need one stride"));
            }
            ptrs.push(d.ptr);
        }
        let b = ctx.bounds(arg)?;
        Ok(Dev {
            lo: b.lo.get(0),
            hi: b.hi.get(0),
            st: st.unwrap_or(8),
            ptrs,
        })
    }
    /// Pointer arguments of every field.
    fn ptr_args(&self) -> impl Iterator<Item = KArg> + '_ {
        self.ptrs.iter().map(|&p| KArg::Ptr(p))
    }
}

/// The point fields of a piece for a zone kernel: private points (which must be one range)
/// and ghost points, as the kernels' `plo, phi, pst, glo, gst` and a (private, ghost) pointer
/// pair per field.
fn point_pair(
    ctx: &TaskCtx,
    private: usize,
    ghost: usize,
    fields: &[&str],
) -> Result<Vec<KArg>, TaskError> {
    if ctx.space(private)?.rects().len() > 1 {
        return Err(err(ctx, "the private points of a piece must be one range"));
    }
    let (p, g) = (
        Dev::new(ctx, private, fields)?,
        Dev::new(ctx, ghost, fields)?,
    );
    let mut a = vec![
        KArg::I64(p.lo),
        KArg::I64(p.hi),
        KArg::I64(p.st),
        KArg::I64(g.lo),
        KArg::I64(g.st),
    ];
    for (pp, gp) in p.ptrs.iter().zip(&g.ptrs) {
        a.push(KArg::Ptr(*pp));
        a.push(KArg::Ptr(*gp));
    }
    Ok(a)
}

/// Launches `name` over each rectangle of argument `arg`'s space: the arguments are the
/// rectangle's first index and size, then `rest(rect)`.
fn over_rects(
    ctx: &TaskCtx,
    gpu: &Arc<Gpu>,
    arg: usize,
    name: &str,
    rest: impl Fn(&Rect) -> Vec<KArg>,
) -> Result<(), TaskError> {
    let k = Kernel::get(gpu, SOURCE, name).map_err(|e| err(ctx, e))?;
    for r in ctx.space(arg)?.rects() {
        let n = r.volume() as i64;
        if n == 0 {
            continue;
        }
        let mut args = vec![KArg::I64(r.lo.get(0)), KArg::I64(n)];
        args.extend(rest(r));
        // SAFETY: the kernel's parameters are these arguments; every pointer is a field of an
        // argument at its lowest index, and the kernel indexes points of the argument's space
        // (or, through `point_pair`, of the piece's private and ghost points).
        unsafe { k.launch(blocks(gpu, n), THREADS, &args) }.map_err(|e| err(ctx, e))?;
    }
    Ok(())
}

/// A zeroed device flag the zone kernels set on a non-positive side volume.
fn flag(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<DeviceBuffer, TaskError> {
    DeviceBuffer::new(gpu, 8).map_err(|e| err(ctx, e))
}

/// Runs `launch` with a fresh volume flag, then checks the flag (see [`check_flag`]).
fn with_volume_flag(
    ctx: &TaskCtx,
    gpu: &Arc<Gpu>,
    launch: impl FnOnce(&DeviceBuffer) -> Result<(), TaskError>,
) -> Result<Value, TaskError> {
    let fl = flag(ctx, gpu)?;
    let launched = launch(&fl);
    // Wait for the kernels before the flag goes, even after a failed launch.
    let checked = check_flag(ctx, gpu, &fl);
    launched?;
    checked?;
    Ok(Value::None)
}

/// Waits for the kernels, then fails with the host variant's message if the flag is set.
fn check_flag(ctx: &TaskCtx, gpu: &Arc<Gpu>, f: &DeviceBuffer) -> Result<(), TaskError> {
    gpu.sync().map_err(|e| err(ctx, e))?;
    let mut b = [0u8; 8];
    // SAFETY: the flag holds 8 bytes, and its kernels have finished.
    unsafe { runtime::cuda::memory::dtoh(gpu, &mut b, f.ptr) }.map_err(|e| err(ctx, e))?;
    let v = u64::from_ne_bytes(b);
    if v != 0 {
        return Err(TaskError(format!(
            "task `{}`: negative side volume in zone {}",
            ctx.task_name(),
            (1u64 << 62) - v
        )));
    }
    Ok(())
}

/// `init_mesh` on a GPU.
pub fn init_mesh(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    use super::kernels::{POINT_FIELDS, SIDE_FIELDS, ZONE_FIELDS};
    let (p, mesh) = (&s.p, &s.mesh);
    let (dx, dy) = (p.lenx / p.nzx as f64, p.leny / p.nzy as f64);
    let fill = Kernel::get(gpu, SOURCE, "pn_fill").map_err(|e| err(ctx, e))?;
    // Zeros in the fields of argument `arg` but those at `skip`, rectangle by rectangle.
    let zero = |arg: usize, d: &Dev, skip: &[usize]| -> Result<(), TaskError> {
        for r in ctx.space(arg)?.rects() {
            let n = r.volume() as i64;
            let at = ((r.lo.get(0) - d.lo) * d.st) as u64;
            for (i, &ptr) in d.ptrs.iter().enumerate() {
                if skip.contains(&i) || n == 0 {
                    continue;
                }
                let args = [
                    KArg::Ptr(ptr + at),
                    KArg::I64(d.st),
                    KArg::I64(n),
                    KArg::F64(0.0),
                ];
                // SAFETY: the field holds the rectangle's points at this stride.
                unsafe { fill.launch(blocks(gpu, n), THREADS, &args) }.map_err(|e| err(ctx, e))?;
            }
        }
        Ok(())
    };
    let z = Dev::new(ctx, 0, ZONE_FIELDS)?;
    let sd = Dev::new(ctx, 1, SIDE_FIELDS)?;
    // zr ze zm zetot zvol zvol0 are computed (ZONE_FIELDS 0, 1, 3, 4, 6, 7), smf too.
    zero(0, &z, &[0, 1, 3, 4, 6, 7])?;
    zero(1, &sd, &[0])?;
    let (hassub, [sx0, sx1, sy0, sy1]) = match p.subregion {
        Some([x0, x1, y0, y1]) => {
            let eps = 1e-12;
            (1, [x0 - eps, x1 + eps, y0 - eps, y1 + eps])
        }
        None => (0, [0.0; 4]),
    };
    over_rects(ctx, gpu, 0, "pn_init_zones", |_| {
        let mut a = vec![
            KArg::I64(z.lo),
            KArg::I64(z.st),
            KArg::I64(sd.lo),
            KArg::I64(sd.st),
            KArg::I64(mesh.nzx as i64),
            KArg::F64(dx),
            KArg::F64(dy),
            KArg::I64(hassub),
            KArg::F64(sx0),
            KArg::F64(sx1),
            KArg::F64(sy0),
            KArg::F64(sy1),
            KArg::F64(p.rinit),
            KArg::F64(p.einit),
            KArg::F64(p.rinitsub),
            KArg::F64(p.einitsub),
        ];
        a.extend([0, 1, 3, 4, 6, 7].map(|i| KArg::Ptr(z.ptrs[i])));
        a.push(KArg::Ptr(sd.ptrs[0]));
        a
    })?;
    for arg in [2, 3] {
        let d = Dev::new(ctx, arg, POINT_FIELDS)?;
        zero(arg, &d, &[0, 1])?;
        over_rects(ctx, gpu, arg, "pn_init_points", |_| {
            vec![
                KArg::I64(d.lo),
                KArg::I64(d.st),
                KArg::I64(mesh.nzx as i64 + 1),
                KArg::F64(dx),
                KArg::F64(dy),
                KArg::Ptr(d.ptrs[0]),
                KArg::Ptr(d.ptrs[1]),
            ]
        })?;
    }
    Ok(Value::None)
}

/// `adv_pos_half` on a GPU.
pub fn adv_pos_half(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let f = [
        "px_x", "px_y", "pu_x", "pu_y", "pu0_x", "pu0_y", "pxp_x", "pxp_y", "pf_x", "pf_y", "pmass",
    ];
    advance_points(ctx, gpu, "pn_adv_half", 0.5 * ctx.f64(0)?, &f)
}

/// Runs point kernel `kernel` with time step `dt` over both point arguments (private and
/// shared points), passing `fields` of each.
fn advance_points(
    ctx: &TaskCtx,
    gpu: &Arc<Gpu>,
    kernel: &str,
    dt: f64,
    fields: &[&str],
) -> Result<Value, TaskError> {
    for arg in [0, 1] {
        let d = Dev::new(ctx, arg, fields)?;
        over_rects(ctx, gpu, arg, kernel, |_| {
            let mut a = vec![KArg::I64(d.lo), KArg::I64(d.st), KArg::F64(dt)];
            a.extend(d.ptr_args());
            a
        })?;
    }
    Ok(Value::None)
}

/// `calc_ctrs_vols` on a GPU.
pub fn calc_ctrs_vols(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let sd = Dev::new(ctx, 0, &["exp_x", "exp_y", "sareap", "elen"])?;
    let z = Dev::new(ctx, 1, &["zxp_x", "zxp_y", "zareap", "zvolp", "zdl"])?;
    let pts = point_pair(ctx, 2, 3, &["pxp_x", "pxp_y"])?;
    with_volume_flag(ctx, gpu, |fl| {
        over_rects(ctx, gpu, 1, "pn_ctrs", |_| {
            let mut a = vec![
                KArg::I64(z.lo),
                KArg::I64(z.st),
                KArg::I64(sd.lo),
                KArg::I64(sd.st),
                KArg::I64(s.mesh.nzx as i64),
            ];
            a.extend(pts.iter().copied());
            a.extend(sd.ptr_args());
            a.extend(z.ptr_args());
            a.push(KArg::Ptr(fl.ptr));
            a
        })
    })
}

/// `calc_forces` on a GPU.
pub fn calc_forces(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let dt = ctx.f64(0)?;
    let z = Dev::new(
        ctx,
        1,
        &[
            "zr", "ze", "zm", "zvol", "zwrate", "zvolp", "zareap", "zxp_x", "zxp_y", "zrp", "zp",
            "zss",
        ],
    )?;
    let sd = Dev::new(
        ctx,
        0,
        &[
            "smf", "sareap", "exp_x", "exp_y", "cmaswt", "sfp_x", "sfp_y", "sft_x", "sft_y",
        ],
    )?;
    over_rects(ctx, gpu, 1, "pn_forces", |_| {
        let mut a = vec![
            KArg::I64(z.lo),
            KArg::I64(z.st),
            KArg::I64(sd.lo),
            KArg::I64(sd.st),
            KArg::F64(dt),
            KArg::F64(s.p.gamma),
            KArg::F64(s.p.ssmin),
            KArg::F64(s.p.alfa),
        ];
        a.extend(z.ptr_args());
        a.extend(sd.ptr_args());
        a
    })?;
    Ok(Value::None)
}

/// `calc_qcs` on a GPU.
pub fn calc_qcs(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let sd = Dev::new(ctx, 0, &["exp_x", "exp_y", "elen", "sfq_x", "sfq_y"])?;
    let z = Dev::new(ctx, 1, &["zxp_x", "zxp_y", "zrp", "zss", "zdu"])?;
    let pts = point_pair(ctx, 2, 3, &["pxp_x", "pxp_y", "pu0_x", "pu0_y"])?;
    over_rects(ctx, gpu, 1, "pn_qcs", |_| {
        let mut a = vec![
            KArg::I64(z.lo),
            KArg::I64(z.st),
            KArg::I64(sd.lo),
            KArg::I64(sd.st),
            KArg::I64(s.mesh.nzx as i64),
            KArg::F64(s.p.q1),
            KArg::F64(s.p.q2),
            KArg::F64(s.p.qgamma),
        ];
        a.extend(pts.iter().copied());
        a.extend(sd.ptr_args());
        a.extend(z.ptr_args());
        a
    })?;
    Ok(Value::None)
}

/// `sum_to_points` on a GPU: private points written, ghost points added into the task's
/// reduction instance (which the runtime filled with zeros).
pub fn sum_to_points(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let sd = Dev::new(
        ctx,
        0,
        &[
            "cmaswt", "sfp_x", "sfp_y", "sfq_x", "sfq_y", "sft_x", "sft_y",
        ],
    )?;
    for (arg, reduce) in [(1, 0), (2, 1)] {
        let d = Dev::new(ctx, arg, &["pmass", "pf_x", "pf_y"])?;
        over_rects(ctx, gpu, arg, "pn_sum", |_| {
            let mut a = vec![
                KArg::I64(d.lo),
                KArg::I64(d.st),
                KArg::I64(reduce),
                KArg::I64(s.mesh.nzx as i64),
                KArg::I64(s.mesh.nzy as i64),
                KArg::I64(sd.lo),
                KArg::I64(sd.hi),
                KArg::I64(sd.st),
            ];
            a.extend(sd.ptr_args());
            a.extend(d.ptr_args());
            a
        })?;
    }
    Ok(Value::None)
}

/// `apply_bcs` on a GPU: one launch per boundary, in the host variant's order.
pub fn apply_bcs(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let (dx, dy) = (s.p.lenx / s.p.nzx as f64, s.p.leny / s.p.nzy as f64);
    for arg in [0, 1] {
        let d = Dev::new(ctx, arg, &["pu0_x", "pu0_y", "pf_x", "pf_y"])?;
        for &(dir, axis, c) in &s.bcs {
            over_rects(ctx, gpu, arg, "pn_bc", |_| {
                let mut a = vec![
                    KArg::I64(d.lo),
                    KArg::I64(d.st),
                    KArg::I64(s.mesh.nzx as i64 + 1),
                    KArg::F64(dx),
                    KArg::F64(dy),
                    KArg::F64(dir.x),
                    KArg::F64(dir.y),
                    KArg::I64(axis as i64),
                    KArg::F64(c),
                ];
                a.extend(d.ptr_args());
                a
            })?;
        }
    }
    Ok(Value::None)
}

/// `adv_pos_full` on a GPU.
pub fn adv_pos_full(ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let f = [
        "px_x", "px_y", "pu_x", "pu_y", "pu0_x", "pu0_y", "pf_x", "pf_y", "pmass",
    ];
    advance_points(ctx, gpu, "pn_adv_full", ctx.f64(0)?, &f)
}

/// `update_zones` on a GPU.
pub fn update_zones(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let dt = ctx.f64(0)?;
    let z = Dev::new(
        ctx,
        0,
        &["zetot", "zm", "zp", "zvol", "zvol0", "zwrate", "ze", "zr"],
    )?;
    let sd = Dev::new(ctx, 1, &["sfp_x", "sfp_y", "sfq_x", "sfq_y"])?;
    let pts = point_pair(
        ctx,
        2,
        3,
        &[
            "px_x", "px_y", "pxp_x", "pxp_y", "pu_x", "pu_y", "pu0_x", "pu0_y",
        ],
    )?;
    with_volume_flag(ctx, gpu, |fl| {
        over_rects(ctx, gpu, 0, "pn_update", |_| {
            let mut a = vec![
                KArg::I64(z.lo),
                KArg::I64(z.st),
                KArg::I64(sd.lo),
                KArg::I64(sd.st),
                KArg::I64(s.mesh.nzx as i64),
                KArg::F64(dt),
            ];
            a.extend(pts.iter().copied());
            a.extend(sd.ptr_args());
            a.extend(z.ptr_args());
            a.push(KArg::Ptr(fl.ptr));
            a
        })
    })
}

/// `calc_dt` on a GPU: a minimum per block on the device, the minimum of the blocks here.
pub fn calc_dt(s: &Setup, ctx: &TaskCtx, gpu: &Arc<Gpu>) -> Result<Value, TaskError> {
    let dt = ctx.f64(0)?;
    let z = Dev::new(ctx, 0, &["zdl", "zdu", "zss", "zvol", "zvol0"])?;
    let k = Kernel::get(gpu, SOURCE, "pn_dt").map_err(|e| err(ctx, e))?;
    let mut m: f64 = 1e99;
    for r in ctx.space(0)?.rects() {
        let n = r.volume() as i64;
        if n == 0 {
            continue;
        }
        let nb = blocks(gpu, n);
        let out = DeviceBuffer::new(gpu, 8 * nb as usize).map_err(|e| err(ctx, e))?;
        let mut args = vec![
            KArg::I64(r.lo.get(0)),
            KArg::I64(n),
            KArg::I64(z.lo),
            KArg::I64(z.st),
            KArg::F64(dt),
            KArg::F64(s.p.cfl),
            KArg::F64(s.p.cflv),
        ];
        args.extend(z.ptr_args());
        args.push(KArg::Ptr(out.ptr));
        // SAFETY: as in `over_rects`; `out` holds one double per block.
        unsafe { k.launch(nb, THREADS, &args) }.map_err(|e| err(ctx, e))?;
        gpu.sync().map_err(|e| err(ctx, e))?;
        let mut b = vec![0u8; 8 * nb as usize];
        // SAFETY: `out` holds these bytes, and the kernel has finished.
        unsafe { runtime::cuda::memory::dtoh(gpu, &mut b, out.ptr) }.map_err(|e| err(ctx, e))?;
        for c in b.chunks_exact(8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            m = m.min(f64::from_ne_bytes(w));
        }
    }
    Ok(Value::F64(m))
}
