//! PENNANT: the sequential method against the original's reference outputs.

use apps::pennant::params::{
    compare, parse_reference, Params, LEBLANC_PNT, LEBLANC_STD, SEDOV_PNT, SEDOV_STD,
};
use apps::pennant::seq::Hydro;

fn check(pnt: &str, std: &str, rel: f64, abs: f64) {
    let p = Params::parse(pnt).unwrap();
    let mut h = Hydro::new(&p);
    h.run();
    let want = parse_reference(std).unwrap();
    if let Some((f, z, g, w)) = compare([&h.zr, &h.ze, &h.zp], &want, rel, abs) {
        panic!(
            "cycle {}: {f} of zone {} is {g:e}, reference {w:e}",
            h.cycle,
            z + 1
        );
    }
}

#[test]
fn sequential_sedov_matches_reference() {
    check(SEDOV_PNT, SEDOV_STD, 1e-8, 2e-6);
}

#[test]
fn sequential_leblanc_matches_reference() {
    check(LEBLANC_PNT, LEBLANC_STD, 1e-8, 1e-8);
}
