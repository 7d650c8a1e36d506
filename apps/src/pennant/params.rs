//! Problem parameters, read from the original's `.pnt` input format (`key value...` lines).

use super::seq::V2;

/// The parameters of a PENNANT problem on a rectangular mesh.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Zones along x.
    pub nzx: usize,
    /// Zones along y.
    pub nzy: usize,
    /// Mesh length along x.
    pub lenx: f64,
    /// Mesh length along y.
    pub leny: f64,
    /// Cycle limit.
    pub cstop: usize,
    /// Time limit.
    pub tstop: f64,
    /// Subregion `[xmin, xmax, ymin, ymax]` with its own initial state, if any.
    pub subregion: Option<[f64; 4]>,
    /// Initial density.
    pub rinit: f64,
    /// Initial specific energy.
    pub einit: f64,
    /// Initial density in the subregion.
    pub rinitsub: f64,
    /// Initial specific energy in the subregion.
    pub einitsub: f64,
    /// x coordinates of the fixed-x boundary planes.
    pub bcx: Vec<f64>,
    /// y coordinates of the fixed-y boundary planes.
    pub bcy: Vec<f64>,
    /// Gas gamma.
    pub gamma: f64,
    /// Minimum sound speed.
    pub ssmin: f64,
    /// TTS coefficient.
    pub alfa: f64,
    /// QCS gamma.
    pub qgamma: f64,
    /// QCS linear coefficient.
    pub q1: f64,
    /// QCS quadratic coefficient.
    pub q2: f64,
    /// Courant number.
    pub cfl: f64,
    /// Volume-change limit per step.
    pub cflv: f64,
    /// First time step.
    pub dtinit: f64,
    /// Largest time step.
    pub dtmax: f64,
    /// Largest growth of the time step per cycle.
    pub dtfac: f64,
}

impl Params {
    /// Parses `.pnt` text (unknown keys such as output options are ignored; only `rect`
    /// meshes are accepted).
    pub fn parse(text: &str) -> Result<Params, String> {
        let mut p = Params {
            nzx: 0,
            nzy: 0,
            lenx: 1.0,
            leny: 1.0,
            cstop: 999_999,
            tstop: 1e99,
            subregion: None,
            rinit: 1.0,
            einit: 0.0,
            rinitsub: 1.0,
            einitsub: 0.0,
            bcx: vec![],
            bcy: vec![],
            gamma: 5.0 / 3.0,
            ssmin: 0.0,
            alfa: 0.5,
            qgamma: 5.0 / 3.0,
            q1: 0.0,
            q2: 2.0,
            cfl: 0.6,
            cflv: 0.1,
            dtinit: 1e99,
            dtmax: 1e99,
            dtfac: 1.2,
        };
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let Some(key) = w.next() else { continue };
            let rest: Vec<&str> = w.collect();
            let nums = || -> Result<Vec<f64>, String> {
                rest.iter()
                    .map(|t| t.parse::<f64>().map_err(|e| format!("{key}: {t}: {e}")))
                    .collect()
            };
            let one = || -> Result<f64, String> {
                nums()?.first().copied().ok_or(format!("{key}: no value"))
            };
            match key {
                "meshtype" if rest.first() != Some(&"rect") => {
                    return Err(format!("mesh type {:?} is not supported", rest.first()))
                }
                "meshparams" => {
                    let v = nums()?;
                    if v.len() < 2 {
                        return Err("meshparams: need nzx nzy [lenx leny]".into());
                    }
                    p.nzx = v[0] as usize;
                    p.nzy = v[1] as usize;
                    if v.len() >= 4 {
                        p.lenx = v[2];
                        p.leny = v[3];
                    }
                }
                "cstop" => p.cstop = one()? as usize,
                "tstop" => p.tstop = one()?,
                "subregion" => {
                    let v = nums()?;
                    if v.len() != 4 {
                        return Err("subregion: need 4 values".into());
                    }
                    p.subregion = Some([v[0], v[1], v[2], v[3]]);
                }
                "rinit" => p.rinit = one()?,
                "einit" => p.einit = one()?,
                "rinitsub" => p.rinitsub = one()?,
                "einitsub" => p.einitsub = one()?,
                "bcx" => p.bcx = nums()?,
                "bcy" => p.bcy = nums()?,
                "gamma" => p.gamma = one()?,
                "ssmin" => p.ssmin = one()?,
                "alfa" => p.alfa = one()?,
                "qgamma" => p.qgamma = one()?,
                "q1" => p.q1 = one()?,
                "q2" => p.q2 = one()?,
                "cfl" => p.cfl = one()?,
                "cflv" => p.cflv = one()?,
                "dtinit" => p.dtinit = one()?,
                "dtmax" => p.dtmax = one()?,
                "dtfac" => p.dtfac = one()?,
                _ => {}
            }
        }
        if p.nzx == 0 || p.nzy == 0 {
            return Err("meshparams missing".into());
        }
        Ok(p)
    }

    /// Whether zone centre `c` lies in the subregion (with the original's 1e-12 margin).
    pub fn in_subregion(&self, c: V2) -> bool {
        let eps = 1e-12;
        match self.subregion {
            Some([x0, x1, y0, y1]) => {
                c.x > x0 - eps && c.x < x1 + eps && c.y > y0 - eps && c.y < y1 + eps
            }
            None => false,
        }
    }
}

/// The Sedov blast wave input (45 x 45 zones, 10 cycles).
pub const SEDOV_PNT: &str = include_str!("data/sedov.pnt");
/// Reference zone density, energy and pressure of [`SEDOV_PNT`].
pub const SEDOV_STD: &str = include_str!("data/sedov.xy.std");
/// The LeBlanc shock tube input (10 x 90 zones, 10 cycles).
pub const LEBLANC_PNT: &str = include_str!("data/leblanc.pnt");
/// Reference zone density, energy and pressure of [`LEBLANC_PNT`].
pub const LEBLANC_STD: &str = include_str!("data/leblanc.xy.std");

/// Reads a reference `.xy.std` file: the `zr`, `ze` and `zp` columns, in zone order.
pub fn parse_reference(text: &str) -> Result<[Vec<f64>; 3], String> {
    let mut out: [Vec<f64>; 3] = Default::default();
    let mut cur: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('#') {
            cur = match name.trim() {
                "zr" => Some(0),
                "ze" => Some(1),
                "zp" => Some(2),
                other => return Err(format!("unknown section {other}")),
            };
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let v = t
            .split_whitespace()
            .nth(1)
            .ok_or(format!("bad line {t:?}"))?
            .parse::<f64>()
            .map_err(|e| format!("{t:?}: {e}"))?;
        out[cur.ok_or("data before a section")?].push(v);
    }
    Ok(out)
}

/// The first zone where `got` differs from `want` by more than `abs` and more than `rel`
/// relative, as `(field, zone, got, want)`.
pub fn compare(
    got: [&[f64]; 3],
    want: &[Vec<f64>; 3],
    rel: f64,
    abs: f64,
) -> Option<(&'static str, usize, f64, f64)> {
    for (f, name) in ["zr", "ze", "zp"].iter().enumerate() {
        if got[f].len() != want[f].len() {
            return Some((name, got[f].len().min(want[f].len()), f64::NAN, f64::NAN));
        }
        for z in 0..got[f].len() {
            let (g, w) = (got[f][z], want[f][z]);
            let d = (g - w).abs();
            if !(d <= abs || d <= rel * w.abs()) {
                return Some((name, z, g, w));
            }
        }
    }
    None
}
