//! Real-GPU tests of the `cuda` module: allocations, copies (host/device, device/device, peer),
//! ZCMEM read by a kernel, NVRTC kernels, cuBLAS GEMMs in every layout combination, and the
//! layout errors. Without the `cuda` feature or without a driver every test prints
//! `skipped: no CUDA driver ...` and returns.

use runtime::cuda;

fn skip(name: &str) -> bool {
    match cuda::unavailable() {
        Some(why) => {
            println!("{name}: skipped: {why}");
            true
        }
        None => false,
    }
}

#[test]
fn gpu_reports_skip_or_devices() {
    if skip("gpu_reports_skip_or_devices") {
        assert_eq!(cuda::gpu_count(), 0);
        return;
    }
    assert!(cuda::gpu_count() > 0);
}

#[cfg(feature = "cuda")]
mod real {
    use super::skip;
    use runtime::cuda::blas::{Blas, Elem};
    use runtime::cuda::gemm_plan::MatDesc;
    use runtime::cuda::memory::{copy, copy_peer, dtoh, htod};
    use runtime::cuda::{gpus, peer_access, DeviceBuffer, KArg, Kernel, PinnedBuffer};

    fn f64_bytes(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }
    fn bytes_f64(b: &[u8]) -> Vec<f64> {
        b.chunks_exact(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }
    fn rand(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 2001) as f64 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn devices_have_names_and_arch() {
        if skip("devices_have_names_and_arch") {
            return;
        }
        for g in gpus().unwrap() {
            println!("{g:?}");
            assert!(!g.name.is_empty());
            assert!(g.arch().starts_with("sm_"));
            assert!(g.total_mem > 0 && g.sms > 0);
        }
    }

    #[test]
    fn host_device_round_trip_and_peer() {
        if skip("host_device_round_trip_and_peer") {
            return;
        }
        let gs = gpus().unwrap();
        let data = f64_bytes(&rand(1000, 7));
        let g0 = &gs[0];
        let d0 = DeviceBuffer::new(g0, data.len()).unwrap();
        unsafe { htod(g0, d0.ptr, &data).unwrap() };
        let d1 = DeviceBuffer::new(g0, data.len()).unwrap();
        unsafe { copy(g0, d1.ptr, d0.ptr, data.len()).unwrap() };
        let mut back = vec![0u8; data.len()];
        unsafe { dtoh(g0, &mut back, d1.ptr).unwrap() };
        assert_eq!(back, data);
        for g in gs.iter().skip(1) {
            println!("peer 0->{}: {}", g.ordinal, peer_access(g.ordinal, 0));
            let dg = DeviceBuffer::new(g, data.len()).unwrap();
            unsafe { copy_peer(g, dg.ptr, g0, d0.ptr, data.len()).unwrap() };
            let mut back = vec![0u8; data.len()];
            unsafe { dtoh(g, &mut back, dg.ptr).unwrap() };
            assert_eq!(back, data, "peer copy to GPU {}", g.ordinal);
        }
    }

    const AXPY: &str = r#"
extern "C" __global__ void axpy(double* y, const double* x, double a, long long n) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += a * x[i];
}
"#;

    #[test]
    fn nvrtc_kernel_reads_zcmem_and_writes_fbmem() {
        if skip("nvrtc_kernel_reads_zcmem_and_writes_fbmem") {
            return;
        }
        let n = 10_000usize;
        let x = rand(n, 3);
        let y = rand(n, 5);
        for g in gpus().unwrap() {
            let k = Kernel::get(g, AXPY, "axpy").unwrap();
            let zx = PinnedBuffer::new(n * 8).unwrap();
            unsafe { std::ptr::copy_nonoverlapping(f64_bytes(&x).as_ptr(), zx.host, n * 8) };
            let dy = DeviceBuffer::new(g, n * 8).unwrap();
            unsafe { htod(g, dy.ptr, &f64_bytes(&y)).unwrap() };
            unsafe {
                k.launch(
                    n.div_ceil(256) as u32,
                    256,
                    &[
                        KArg::Ptr(dy.ptr),
                        KArg::Ptr(zx.dev),
                        KArg::F64(2.5),
                        KArg::I64(n as i64),
                    ],
                )
                .unwrap()
            };
            g.sync().unwrap();
            let mut out = vec![0u8; n * 8];
            unsafe { dtoh(g, &mut out, dy.ptr).unwrap() };
            let out = bytes_f64(&out);
            for i in 0..n {
                // The GPU contracts `y + a * x` into one fused multiply-add.
                assert_eq!(
                    out[i],
                    2.5f64.mul_add(x[i], y[i]),
                    "GPU {} element {i}",
                    g.ordinal
                );
            }
        }
    }

    #[test]
    fn nvrtc_error_is_reported() {
        if skip("nvrtc_error_is_reported") {
            return;
        }
        let g = &gpus().unwrap()[0];
        let e = Kernel::compile(g, "extern \"C\" __global__ void k() { nope; }", "k")
            .err()
            .unwrap();
        assert!(e.starts_with("NVRTC: compiling kernel `k` for sm_"), "{e}");
    }

    fn desc(rows: usize, cols: usize, row_major: bool, ld: usize) -> MatDesc {
        if row_major {
            MatDesc {
                rows,
                cols,
                elem: 8,
                row_stride: 8 * ld,
                col_stride: 8,
            }
        } else {
            MatDesc {
                rows,
                cols,
                elem: 8,
                row_stride: 8,
                col_stride: 8 * ld,
            }
        }
    }

    /// Stores the logical matrix `m` (row-major rows x cols) as `d` describes.
    fn store(m: &[f64], d: &MatDesc) -> Vec<f64> {
        let len = (d.rows - 1) * d.row_stride / 8 + (d.cols - 1) * d.col_stride / 8 + 1;
        let mut v = vec![f64::NAN; len];
        for i in 0..d.rows {
            for j in 0..d.cols {
                v[i * d.row_stride / 8 + j * d.col_stride / 8] = m[i * d.cols + j];
            }
        }
        v
    }

    #[test]
    fn cublas_gemm_every_layout_and_memory() {
        if skip("cublas_gemm_every_layout_and_memory") {
            return;
        }
        let (m, n, k) = (33, 17, 9);
        let a = rand(m * k, 11);
        let b = rand(k * n, 13);
        let c0 = rand(m * n, 17);
        let mut want = c0.clone();
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for l in 0..k {
                    s += a[i * k + l] * b[l * n + j];
                }
                want[i * n + j] = 0.5 * c0[i * n + j] + 2.0 * s;
            }
        }
        let g = &gpus().unwrap()[0];
        let blas = Blas::get(g).unwrap();
        for mask in 0..8u32 {
            let (cr, ar, br) = (mask & 1 != 0, mask & 2 != 0, mask & 4 != 0);
            // Padded leading dimensions (+3) exercise ld > extent.
            let dc = desc(m, n, cr, if cr { n + 3 } else { m + 3 });
            let da = desc(m, k, ar, if ar { k + 3 } else { m + 3 });
            let db = desc(k, n, br, if br { n + 3 } else { k + 3 });
            let (sc, sa, sb) = (store(&c0, &dc), store(&a, &da), store(&b, &db));
            let bc = DeviceBuffer::new(g, sc.len() * 8).unwrap();
            // A in FBMEM, B in ZCMEM (read by cuBLAS over the bus).
            let ba = DeviceBuffer::new(g, sa.len() * 8).unwrap();
            let zb = PinnedBuffer::new(sb.len() * 8).unwrap();
            unsafe {
                htod(g, bc.ptr, &f64_bytes(&sc)).unwrap();
                htod(g, ba.ptr, &f64_bytes(&sa)).unwrap();
                std::ptr::copy_nonoverlapping(f64_bytes(&sb).as_ptr(), zb.host, sb.len() * 8);
                blas.gemm(
                    Elem::F64,
                    2.0,
                    0.5,
                    (bc.ptr, &dc),
                    (ba.ptr, &da),
                    (zb.dev, &db),
                )
                .unwrap();
            }
            g.sync().unwrap();
            let mut out = vec![0u8; sc.len() * 8];
            unsafe { dtoh(g, &mut out, bc.ptr).unwrap() };
            let out = bytes_f64(&out);
            for i in 0..m {
                for j in 0..n {
                    let got = out[i * dc.row_stride / 8 + j * dc.col_stride / 8];
                    let w = want[i * n + j];
                    assert!(
                        (got - w).abs() <= 1e-12 * (1.0 + w.abs()),
                        "mask {mask} ({i},{j}): {got} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn cublas_rejects_aos_before_running() {
        if skip("cublas_rejects_aos_before_running") {
            return;
        }
        let g = &gpus().unwrap()[0];
        let blas = Blas::get(g).unwrap();
        let c = desc(4, 4, true, 4);
        let aos = MatDesc {
            rows: 4,
            cols: 4,
            elem: 8,
            row_stride: 64,
            col_stride: 16,
        };
        let e = unsafe { blas.gemm(Elem::F64, 1.0, 0.0, (0, &c), (0, &aos), (0, &c)) }.unwrap_err();
        assert!(e.contains("neither dimension has unit stride"), "{e}");
    }
}
