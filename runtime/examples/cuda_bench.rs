//! GPU micro-benchmarks of the `cuda` module (run on the GPU machine): copy bandwidths (H2D,
//! D2H, D2D, peer), the cuBLAS DGEMM anchor (one call of N^3 on one GPU), the same product as a
//! grid of tile GEMMs with operands in FBMEM and in ZCMEM, and the product split across all
//! GPUs. Prints one JSON object per measurement, then a table.
//!
//! Usage: `cuda_bench [N]` (default 8192). Needs `--features cuda`.

#[cfg(not(feature = "cuda"))]
fn main() {
    println!("skipped: no CUDA driver: built without the `cuda` feature");
}

#[cfg(feature = "cuda")]
fn main() {
    if let Err(e) = real::main() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "cuda")]
mod real {
    use runtime::cuda::blas::{Blas, Elem};
    use runtime::cuda::gemm_plan::MatDesc;
    use runtime::cuda::memory::{copy, copy_peer, htod};
    use runtime::cuda::{gpus, peer_access, DeviceBuffer, Gpu, PinnedBuffer};
    use std::sync::Arc;
    use std::time::Instant;

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn rand_bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n / 8)
            .flat_map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s % 2001) as f64 / 1000.0 - 1.0).to_ne_bytes()
            })
            .collect()
    }

    fn cm(rows: usize, cols: usize, ld: usize) -> MatDesc {
        MatDesc {
            rows,
            cols,
            elem: 8,
            row_stride: 8,
            col_stride: 8 * ld,
        }
    }

    fn rec(rows: &mut Vec<(String, String)>, name: &str, value: f64, unit: &str, card: &str) {
        println!(
            "{{\"bench\":\"{name}\",\"value\":{value:.3},\"unit\":\"{unit}\",\"card\":\"{card}\"}}"
        );
        rows.push((name.to_string(), format!("{value:.2} {unit}")));
    }

    fn time_ms(g: &Gpu, reps: usize, f: &dyn Fn() -> Result<(), String>) -> Result<f64, String> {
        f()?;
        g.sync()?;
        let mut v = Vec::new();
        for _ in 0..reps {
            let t = g.timer()?;
            f()?;
            v.push(t.stop_ms()?);
        }
        Ok(median(v))
    }

    pub fn main() -> Result<(), String> {
        let n: usize = std::env::args()
            .nth(1)
            .map(|s| s.parse().map_err(|_| format!("bad N `{s}`")))
            .transpose()?
            .unwrap_or(8192);
        let gs = gpus()?;
        if gs.is_empty() {
            return Err("no CUDA devices".into());
        }
        for g in gs {
            println!("# {g:?}");
        }
        for i in 0..gs.len() {
            let row: Vec<String> = (0..gs.len())
                .map(|j| if peer_access(i, j) { "1" } else { "0" }.to_string())
                .collect();
            println!("# peer access from GPU {i}: [{}]", row.join(" "));
        }
        let card = gs[0].name.clone();
        let g0 = &gs[0];
        let mut rows = Vec::new();

        // Copies: 256 MiB.
        let sz = 256usize << 20;
        let pin = PinnedBuffer::new(sz)?;
        let d0 = DeviceBuffer::new(g0, sz)?;
        let d1 = DeviceBuffer::new(g0, sz)?;
        let gbs = |ms: f64| sz as f64 / (ms * 1e-3) / 1e9;
        let t = |f: &dyn Fn() -> Result<(), String>| -> Result<f64, String> {
            f()?;
            let mut v = Vec::new();
            for _ in 0..5 {
                let s = Instant::now();
                f()?;
                v.push(s.elapsed().as_secs_f64() * 1e3);
            }
            Ok(median(v))
        };
        // SAFETY (all copies below): buffers of `sz` bytes, used by this thread only.
        let ms = t(&|| unsafe { copy(g0, d0.ptr, pin.dev, sz) })?;
        rec(&mut rows, "copy_h2d_pinned", gbs(ms), "GB/s", &card);
        let ms = t(&|| unsafe { copy(g0, pin.dev, d0.ptr, sz) })?;
        rec(&mut rows, "copy_d2h_pinned", gbs(ms), "GB/s", &card);
        let ms = t(&|| unsafe { copy(g0, d1.ptr, d0.ptr, sz) })?;
        rec(
            &mut rows,
            "copy_d2d (bytes moved once)",
            gbs(ms),
            "GB/s",
            &card,
        );
        for g in gs.iter().skip(1) {
            let dg = DeviceBuffer::new(g, sz)?;
            let ms = t(&|| unsafe { copy_peer(g, dg.ptr, g0, d0.ptr, sz) })?;
            rec(
                &mut rows,
                &format!("copy_peer_0_to_{}", g.ordinal),
                gbs(ms),
                "GB/s",
                &card,
            );
        }
        drop((pin, d0, d1));

        // DGEMM anchor: one N^3 call on GPU 0, operands in FBMEM.
        let bytes = n * n * 8;
        let flops = 2.0 * (n as f64).powi(3);
        let mk = |g: &Arc<Gpu>, seed: u64| -> Result<DeviceBuffer, String> {
            let b = DeviceBuffer::new(g, bytes)?;
            // SAFETY: `b` holds `bytes` bytes.
            unsafe { htod(g, b.ptr, &rand_bytes(bytes, seed))? };
            Ok(b)
        };
        let (a, b, c) = (mk(g0, 1)?, mk(g0, 2)?, mk(g0, 3)?);
        let blas = Blas::get(g0)?;
        let d = cm(n, n, n);
        // SAFETY: n x n f64 operands in FBMEM.
        let ms = time_ms(g0, 10, &|| unsafe {
            blas.gemm(Elem::F64, 1.0, 0.0, (c.ptr, &d), (a.ptr, &d), (b.ptr, &d))
                .map(|_| ())
        })?;
        let anchor = flops / (ms * 1e-3) / 1e12;
        rec(
            &mut rows,
            &format!("dgemm_{n}_one_call_fbmem"),
            anchor,
            "TFLOP/s",
            &card,
        );

        // The same product as 2x2x2 tile GEMMs (tiles addressed inside the full matrices).
        let h = n / 2;
        let td = cm(h, h, n);
        let tile = |base: u64, i: usize, j: usize| base + ((j * h) * n + i * h) as u64 * 8;
        let tiles = |a: u64, b: u64, c: u64, blas: &Blas| -> Result<(), String> {
            for i in 0..2 {
                for j in 0..2 {
                    for k in 0..2 {
                        let beta = if k == 0 { 0.0 } else { 1.0 };
                        // SAFETY: tiles lie inside the n x n operands.
                        unsafe {
                            blas.gemm(
                                Elem::F64,
                                1.0,
                                beta,
                                (tile(c, i, j), &td),
                                (tile(a, i, k), &td),
                                (tile(b, k, j), &td),
                            )?
                        };
                    }
                }
            }
            Ok(())
        };
        let ms = time_ms(g0, 5, &|| tiles(a.ptr, b.ptr, c.ptr, &blas))?;
        rec(
            &mut rows,
            &format!("dgemm_{n}_2x2x2_tiles_fbmem"),
            flops / (ms * 1e-3) / 1e12,
            "TFLOP/s",
            &card,
        );
        drop((a, b, c));

        // ZCMEM: A and B in mapped pinned host memory (read over the bus), C in FBMEM.
        let zn = n / 2;
        let zbytes = zn * zn * 8;
        let za = PinnedBuffer::new(zbytes)?;
        let zb = PinnedBuffer::new(zbytes)?;
        // SAFETY: fresh buffers of `zbytes` bytes, no device access yet.
        unsafe {
            std::ptr::copy_nonoverlapping(rand_bytes(zbytes, 4).as_ptr(), za.host, zbytes);
            std::ptr::copy_nonoverlapping(rand_bytes(zbytes, 5).as_ptr(), zb.host, zbytes);
        }
        let zc = DeviceBuffer::new(g0, zbytes)?;
        let zd = cm(zn, zn, zn);
        // SAFETY: zn x zn operands (ZCMEM device addresses and FBMEM).
        let ms = time_ms(g0, 2, &|| unsafe {
            blas.gemm(
                Elem::F64,
                1.0,
                0.0,
                (zc.ptr, &zd),
                (za.dev, &zd),
                (zb.dev, &zd),
            )
            .map(|_| ())
        })?;
        let zflops = 2.0 * (zn as f64).powi(3);
        rec(
            &mut rows,
            &format!("dgemm_{zn}_operands_in_zcmem"),
            zflops / (ms * 1e-3) / 1e12,
            "TFLOP/s",
            &card,
        );
        drop((za, zb, zc));

        // All GPUs: each computes a block of rows of C (A rows block, full B, in its FBMEM).
        if gs.len() > 1 {
            let p = gs.len();
            let rb = n / p;
            let mut bufs = Vec::new();
            for (i, g) in gs.iter().enumerate() {
                let a = DeviceBuffer::new(g, rb * n * 8)?;
                // SAFETY: sized as written.
                unsafe { htod(g, a.ptr, &rand_bytes(rb * n * 8, 10 + i as u64))? };
                let b = mk(g, 2)?;
                let c = DeviceBuffer::new(g, rb * n * 8)?;
                bufs.push((Blas::get(g)?, a, b, c));
            }
            let run = || -> Result<(), String> {
                for (bl, a, b, c) in &bufs {
                    let da = cm(rb, n, rb);
                    let db = cm(n, n, n);
                    // SAFETY: per-GPU operands of the described shapes.
                    unsafe {
                        bl.gemm(
                            Elem::F64,
                            1.0,
                            0.0,
                            (c.ptr, &da),
                            (a.ptr, &da),
                            (b.ptr, &db),
                        )?
                    };
                }
                for g in gs {
                    g.sync()?;
                }
                Ok(())
            };
            run()?;
            let mut v = Vec::new();
            for _ in 0..10 {
                let s = Instant::now();
                run()?;
                v.push(s.elapsed().as_secs_f64() * 1e3);
            }
            let ms = median(v);
            let tf = flops / (ms * 1e-3) / 1e12;
            rec(
                &mut rows,
                &format!("dgemm_{n}_row_blocks_on_{p}_gpus"),
                tf,
                "TFLOP/s",
                &card,
            );
            rec(
                &mut rows,
                &format!("speedup_{p}_gpus_vs_one_call"),
                tf / anchor,
                "x",
                &card,
            );
        }

        println!("\n{:<40} {:>18}   ({card})", "measurement", "value");
        for (k, v) in rows {
            println!("{k:<40} {v:>18}");
        }
        Ok(())
    }
}
