//! Futures: the scalar result of a task, available once it finishes, and future maps (one
//! future per point of an index launch) that reduce to a single future.

use crate::geom::Point;
use crate::task::{ReduceOp, Value};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Default)]
struct Slot {
    value: Mutex<Option<Result<Value, String>>>,
    ready: Condvar,
}

enum Inner {
    Slot(Arc<Slot>),
    Reduce(Vec<Future>, ReduceOp),
    Ready(Value),
}

/// A value that becomes available when a task finishes.
#[derive(Clone)]
pub struct Future {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Future {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Future(ready: {})", self.is_ready())
    }
}

/// The writing end of a future, held by the task that produces it.
#[derive(Clone)]
pub struct Promise {
    /// `None` for a promise nobody waits on ([`Promise::detached`]).
    slot: Option<Arc<Slot>>,
}

impl Promise {
    /// A promise with no future (its value is dropped): for tasks whose result nobody can
    /// observe, such as simulated ones.
    pub fn detached() -> Promise {
        Promise { slot: None }
    }

    /// Sets the value (or error) and wakes waiters; later calls are ignored.
    pub fn set(&self, v: Result<Value, String>) {
        let Some(slot) = &self.slot else {
            return;
        };
        if let Ok(mut g) = slot.value.lock() {
            if g.is_none() {
                *g = Some(v);
            }
        }
        slot.ready.notify_all();
    }
}

impl Future {
    /// A new pending future and its promise.
    pub fn pending() -> (Future, Promise) {
        let slot = Arc::new(Slot::default());
        (
            Future {
                inner: Arc::new(Inner::Slot(slot.clone())),
            },
            Promise { slot: Some(slot) },
        )
    }

    /// A future that is already ready.
    pub fn ready(v: Value) -> Future {
        Future {
            inner: Arc::new(Inner::Ready(v)),
        }
    }

    /// True if `get` would not block.
    pub fn is_ready(&self) -> bool {
        match &*self.inner {
            Inner::Slot(s) => s.value.lock().map(|g| g.is_some()).unwrap_or(true),
            Inner::Reduce(fs, _) => fs.iter().all(Future::is_ready),
            Inner::Ready(_) => true,
        }
    }

    /// Waits for the value. Errors carry the failing task's message.
    pub fn get(&self) -> Result<Value, String> {
        match &*self.inner {
            Inner::Ready(v) => Ok(v.clone()),
            Inner::Slot(s) => {
                let mut g = s
                    .value
                    .lock()
                    .map_err(|_| "future lock poisoned".to_string())?;
                loop {
                    if let Some(v) = &*g {
                        return v.clone();
                    }
                    g = s
                        .ready
                        .wait(g)
                        .map_err(|_| "future lock poisoned".to_string())?;
                }
            }
            Inner::Reduce(fs, op) => {
                let mut acc = Value::None;
                for f in fs {
                    acc = acc.reduce(&f.get()?, *op)?;
                }
                Ok(acc)
            }
        }
    }

    /// Waits and returns the value as f64.
    pub fn get_f64(&self) -> Result<f64, String> {
        let v = self.get()?;
        v.as_f64()
            .ok_or_else(|| format!("future holds {v:?}, not a number"))
    }
}

/// One future per point of an index launch.
#[derive(Clone, Debug)]
pub struct FutureMap {
    /// Points and their futures, in launch order.
    pub futures: Vec<(Point, Future)>,
}

impl FutureMap {
    /// The future of `point`.
    pub fn get(&self, point: &Point) -> Option<&Future> {
        self.futures
            .iter()
            .find(|(p, _)| p == point)
            .map(|(_, f)| f)
    }

    /// A future of all values reduced with `op` in launch order (deterministic).
    pub fn reduce(&self, op: ReduceOp) -> Future {
        Future {
            inner: Arc::new(Inner::Reduce(
                self.futures.iter().map(|(_, f)| f.clone()).collect(),
                op,
            )),
        }
    }

    /// Waits for every point.
    pub fn wait(&self) -> Result<(), String> {
        for (_, f) in &self.futures {
            f.get()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promise_sets_future_across_threads() {
        let (f, p) = Future::pending();
        assert!(!f.is_ready());
        let h = std::thread::spawn(move || p.set(Ok(Value::F64(2.5))));
        assert_eq!(f.get(), Ok(Value::F64(2.5)));
        h.join().unwrap();
    }

    #[test]
    fn future_map_reduces() {
        let fm = FutureMap {
            futures: (0..4)
                .map(|i| (Point::p1(i), Future::ready(Value::I64(i + 1))))
                .collect(),
        };
        assert_eq!(fm.reduce(ReduceOp::Prod).get(), Ok(Value::I64(24)));
        assert_eq!(fm.reduce(ReduceOp::Max).get(), Ok(Value::I64(4)));
        let (f, p) = Future::pending();
        p.set(Err("task `x` failed".into()));
        let fm = FutureMap {
            futures: vec![(Point::p1(0), f)],
        };
        assert_eq!(
            fm.reduce(ReduceOp::Sum).get(),
            Err("task `x` failed".into())
        );
    }
}
