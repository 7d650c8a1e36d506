//! Run-time compiled kernels: CUDA C compiled by NVRTC for the device's own architecture
//! (`sm_XY` from its compute capability), loaded into the GPU's context, and launched on its
//! compute stream with scalar and pointer arguments. Compiled modules are cached per GPU and
//! source.

use super::device::{err, Gpu};
use cudarc::driver::{result, sys};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};
use std::collections::HashMap;
use std::ffi::{c_void, CString};
use std::sync::{Arc, Mutex, OnceLock};

/// A kernel argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KArg {
    /// A device pointer (FBMEM, or the device address of ZCMEM).
    Ptr(u64),
    /// A 64-bit integer.
    I64(i64),
    /// A 32-bit integer.
    I32(i32),
    /// A double.
    F64(f64),
    /// A float.
    F32(f32),
}

/// A compiled kernel on one GPU.
pub struct Kernel {
    func: sys::CUfunction,
    /// Its GPU.
    pub gpu: Arc<Gpu>,
    /// Kernel name.
    pub name: String,
}

// SAFETY: a CUfunction handle is usable from any thread once its context is bound.
unsafe impl Send for Kernel {}
// SAFETY: as above.
unsafe impl Sync for Kernel {}

type Cache = Mutex<HashMap<(usize, String, String), Arc<Kernel>>>;

/// A loaded module (kept for the process).
#[derive(Clone, Copy)]
struct Module(sys::CUmodule);
// SAFETY: a module handle is usable from any thread once its context is bound.
unsafe impl Send for Module {}

static MODULES: OnceLock<Mutex<HashMap<(usize, String), Module>>> = OnceLock::new();

/// The module of `source` on `gpu`, compiled by NVRTC for its architecture on first use.
/// (`name` is only for error messages.)
fn module(gpu: &Arc<Gpu>, source: &str, name: &str) -> Result<Module, String> {
    let modules = MODULES.get_or_init(Default::default);
    let mut m = modules.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(x) = m.get(&(gpu.ordinal, source.to_string())) {
        return Ok(*x);
    }
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture={}", gpu.arch())],
        ..Default::default()
    };
    let ptx = compile_ptx_with_opts(source, opts).map_err(|e| {
        format!(
            "NVRTC: compiling kernel `{name}` for {} failed: {e}",
            gpu.arch()
        )
    })?;
    let image = CString::new(ptx.to_src())
        .map_err(|_| format!("NVRTC: PTX of `{name}` holds a NUL byte"))?;
    gpu.bind()?;
    // SAFETY: `image` is NUL-terminated PTX; the module lives for the process (cached).
    let module = unsafe { result::module::load_data(image.as_ptr().cast()) }
        .map_err(|e| err(&format!("cuModuleLoadData for `{name}`"), e))?;
    m.insert((gpu.ordinal, source.to_string()), Module(module));
    Ok(Module(module))
}
static CACHE: OnceLock<Cache> = OnceLock::new();

impl Kernel {
    /// Compiles `source` (CUDA C; the kernel must be `extern "C"`) for `gpu` and loads `name`,
    /// reusing an earlier compilation of the same source on the same GPU.
    pub fn get(gpu: &Arc<Gpu>, source: &str, name: &str) -> Result<Arc<Kernel>, String> {
        let key = (gpu.ordinal, name.to_string(), source.to_string());
        let cache = CACHE.get_or_init(Default::default);
        if let Some(k) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(k.clone());
        }
        let k = Arc::new(Kernel::compile(gpu, source, name)?);
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, k.clone());
        Ok(k)
    }

    /// Compiles `source` for `gpu`'s architecture (once per GPU and source: the loaded module
    /// is cached, so the kernels of one source share a compilation) and loads kernel `name`.
    pub fn compile(gpu: &Arc<Gpu>, source: &str, name: &str) -> Result<Kernel, String> {
        let module = module(gpu, source, name)?;
        let cname = CString::new(name).map_err(|_| format!("kernel name `{name}` holds a NUL"))?;
        gpu.bind()?;
        // SAFETY: `module` is loaded in this GPU's context and lives for the process.
        let func = unsafe { result::module::get_function(module.0, cname) }.map_err(|e| {
            err(
                &format!("cuModuleGetFunction `{name}` (is it declared extern \"C\"?)"),
                e,
            )
        })?;
        Ok(Kernel {
            func,
            gpu: gpu.clone(),
            name: name.to_string(),
        })
    }

    /// Launches on the GPU's compute stream (asynchronously; see [`Gpu::sync`]).
    ///
    /// # Safety
    /// The arguments must match the kernel's parameters, and every pointer must be valid for
    /// what the kernel accesses.
    pub unsafe fn launch(&self, grid: u32, block: u32, args: &[KArg]) -> Result<(), String> {
        // SAFETY: forwarded.
        unsafe { self.launch_on(&self.gpu.stream, grid, block, args) }
    }

    /// Launches on `stream` (one of this GPU's streams), asynchronously.
    ///
    /// # Safety
    /// As [`Kernel::launch`].
    pub unsafe fn launch_on(
        &self,
        stream: &cudarc::driver::CudaStream,
        grid: u32,
        block: u32,
        args: &[KArg],
    ) -> Result<(), String> {
        let mut vals: Vec<[u8; 8]> = args
            .iter()
            .map(|a| {
                let mut b = [0u8; 8];
                match *a {
                    KArg::Ptr(v) => b = v.to_ne_bytes(),
                    KArg::I64(v) => b = v.to_ne_bytes(),
                    KArg::F64(v) => b = v.to_ne_bytes(),
                    KArg::I32(v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
                    KArg::F32(v) => b[..4].copy_from_slice(&v.to_ne_bytes()),
                }
                b
            })
            .collect();
        let mut params: Vec<*mut c_void> = vals.iter_mut().map(|v| v.as_mut_ptr().cast()).collect();
        self.gpu.bind()?;
        // SAFETY: the caller guarantees the arguments; `vals` outlives the call (the driver
        // copies the parameters at launch).
        unsafe {
            result::launch_kernel(
                self.func,
                (grid.max(1), 1, 1),
                (block.max(1), 1, 1),
                0,
                stream.cu_stream(),
                &mut params,
            )
        }
        .map_err(|e| err(&format!("cuLaunchKernel `{}`", self.name), e))
    }
}
