//! The memory-bandwidth reference of the stencil benchmark: a STREAM-style triad
//! (`a = b + s * c` over arrays far larger than the caches) on all cores, counting 24 bytes per
//! element as STREAM does.

use std::time::Instant;

/// Bytes per second of the best of `reps` triads over `len` f64 elements per array, on
/// `threads` threads.
pub fn triad_bandwidth(len: usize, threads: usize, reps: usize) -> f64 {
    let threads = threads.max(1);
    let len = len.max(threads);
    let b = vec![1.0f64; len];
    let c = vec![2.0f64; len];
    let mut a = vec![0.0f64; len];
    let chunk = len.div_ceil(threads);
    let mut best = f64::INFINITY;
    for r in 0..reps.max(1) + 1 {
        let s = 3.0 + r as f64;
        let t = Instant::now();
        std::thread::scope(|sc| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                sc.spawn(move || {
                    for ((x, y), z) in a.iter_mut().zip(b).zip(c) {
                        *x = y + s * z;
                    }
                });
            }
        });
        let dt = t.elapsed().as_secs_f64();
        // The first pass touches the pages: not timed.
        if r > 0 {
            best = best.min(dt);
        }
    }
    std::hint::black_box(&a);
    24.0 * len as f64 / best
}

#[cfg(test)]
mod tests {
    #[test]
    fn triad_reports_a_positive_finite_rate() {
        let bw = super::triad_bandwidth(1 << 16, 2, 2);
        assert!(bw.is_finite() && bw > 0.0, "{bw}");
    }
}
