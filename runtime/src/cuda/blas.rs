//! cuBLAS tile GEMMs: one handle per GPU, bound to its compute stream, running the plan
//! [`super::gemm_plan::plan`] made from the operands' layouts (FBMEM pointers, or ZCMEM device
//! addresses that cuBLAS reads over the bus).

use super::device::Gpu;
use super::gemm_plan::{plan, GemmPlan, MatDesc};
use cudarc::cublas::{result, sys};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A cuBLAS handle on one GPU's compute stream.
pub struct Blas {
    handle: sys::cublasHandle_t,
    /// Its GPU.
    pub gpu: Arc<Gpu>,
    lock: Mutex<()>,
}

// SAFETY: calls on the handle are serialized by `lock`.
unsafe impl Send for Blas {}
// SAFETY: as above.
unsafe impl Sync for Blas {}

static HANDLES: OnceLock<Mutex<HashMap<usize, Arc<Blas>>>> = OnceLock::new();

fn op(t: bool) -> sys::cublasOperation_t {
    if t {
        sys::cublasOperation_t::CUBLAS_OP_T
    } else {
        sys::cublasOperation_t::CUBLAS_OP_N
    }
}

/// Element type of a GEMM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    /// f64 (DGEMM).
    F64,
    /// f32 (SGEMM).
    F32,
}

impl Blas {
    /// The handle of `gpu` (created on first use).
    pub fn get(gpu: &Arc<Gpu>) -> Result<Arc<Blas>, String> {
        let map = HANDLES.get_or_init(Default::default);
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = m.get(&gpu.ordinal) {
            return Ok(b.clone());
        }
        gpu.bind()?;
        let handle =
            result::create_handle().map_err(|e| format!("cuBLAS: cublasCreate failed: {e:?}"))?;
        // SAFETY: a fresh handle and a live stream of the bound context.
        unsafe { result::set_stream(handle, gpu.stream.cu_stream() as _) }
            .map_err(|e| format!("cuBLAS: cublasSetStream failed: {e:?}"))?;
        let b = Arc::new(Blas {
            handle,
            gpu: gpu.clone(),
            lock: Mutex::new(()),
        });
        m.insert(gpu.ordinal, b.clone());
        Ok(b)
    }

    /// `C = alpha * A * B + beta * C` on the compute stream (asynchronous), for operands at
    /// device addresses `c`, `a`, `b` stored as described. Layouts cuBLAS cannot take are
    /// reported by [`plan`] before anything runs.
    ///
    /// # Safety
    /// The addresses must be valid device (or mapped pinned) memory for the described shapes.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn gemm(
        &self,
        elem: Elem,
        alpha: f64,
        beta: f64,
        c: (u64, &MatDesc),
        a: (u64, &MatDesc),
        b: (u64, &MatDesc),
    ) -> Result<GemmPlan, String> {
        let p = plan(c.1, a.1, b.1)?;
        let (x, y) = if p.swap { (b.0, a.0) } else { (a.0, b.0) };
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.gpu.bind()?;
        let (m, n, k) = (p.m as i32, p.n as i32, p.k as i32);
        let r = match elem {
            // SAFETY: the plan's dimensions match the operands the caller vouches for.
            Elem::F64 => unsafe {
                result::dgemm(
                    self.handle,
                    op(p.trans_x),
                    op(p.trans_y),
                    m,
                    n,
                    k,
                    &alpha,
                    x as *const f64,
                    p.ld_x as i32,
                    y as *const f64,
                    p.ld_y as i32,
                    &beta,
                    c.0 as *mut f64,
                    p.ld_c as i32,
                )
            },
            Elem::F32 => {
                let (al, be) = (alpha as f32, beta as f32);
                // SAFETY: as above.
                unsafe {
                    result::sgemm(
                        self.handle,
                        op(p.trans_x),
                        op(p.trans_y),
                        m,
                        n,
                        k,
                        &al,
                        x as *const f32,
                        p.ld_x as i32,
                        y as *const f32,
                        p.ld_y as i32,
                        &be,
                        c.0 as *mut f32,
                        p.ld_c as i32,
                    )
                }
            }
        };
        r.map_err(|e| format!("cuBLAS: gemm {p:?} failed: {e:?}"))?;
        Ok(p)
    }
}
