//! PENNANT: Lagrangian staggered-grid hydrodynamics (LANL's mini-app) on 2-D rectangular quad
//! meshes in RZ geometry: a predictor-corrector cycle with a polytropic gas, TTS subzonal
//! pressure forces and the QCS artificial viscosity.

pub mod params;
pub mod pieces;
pub mod seq;

pub use params::Params;
