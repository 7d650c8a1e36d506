//! Profiling: every task (name, point, processor, start, end) and every copy (source and
//! destination memory, bytes, region, field, start, end) is recorded; [`Profile::summary`]
//! prints busy time per processor, bytes per memory pair and the top copies by region and task;
//! [`Profile::chrome_trace`] gives Chrome trace JSON ("X" events) that loads in Perfetto.

use crate::geom::Point;
use mapper_core::ProcId;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a copy record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CopyKind {
    /// Valid data moved into an instance before a task.
    Copy,
    /// Data of a never-written field initialized to zero.
    Fill,
    /// A reduction instance folded into the valid data after a task.
    Fold,
    /// The only valid copy written back before its instance was evicted.
    Writeback,
}

/// One executed task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRecord {
    /// Task name.
    pub name: Arc<str>,
    /// The point (a 1-D point 0 for single launches).
    pub point: Point,
    /// Processor.
    pub proc: ProcId,
    /// Start, in ns since the runtime started.
    pub start_ns: u64,
    /// End, in ns since the runtime started.
    pub end_ns: u64,
}

/// One executed copy, fill or fold.
#[derive(Clone, Debug, PartialEq)]
pub struct CopyRecord {
    /// Kind.
    pub kind: CopyKind,
    /// Source memory label (none for fills).
    pub src: Option<Arc<str>>,
    /// Destination memory label.
    pub dst: Arc<str>,
    /// Node of the destination memory.
    pub node: u32,
    /// Bytes moved.
    pub bytes: u64,
    /// Region name.
    pub region: Arc<str>,
    /// Field name.
    pub field: Arc<str>,
    /// The task it was issued for.
    pub task: Arc<str>,
    /// Start, in ns since the runtime started.
    pub start_ns: u64,
    /// End, in ns since the runtime started.
    pub end_ns: u64,
}

/// An argument instance placed in a memory the mapper did not list: none of the listed
/// memories could take it, so the default list (appended as a fallback) did. Recorded whether
/// or not profiling is on, once per (task, argument, processor kind, memory kind), with a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// Task name.
    pub task: String,
    /// Argument name.
    pub arg: String,
    /// Region of the first such instance.
    pub region: String,
    /// The processor kind the task ran on (`GPU`).
    pub proc_kind: String,
    /// The memory kinds the mapper listed, as written (`FBMEM`).
    pub listed: Vec<String>,
    /// The memory the instance went to (`ZCMEM[0.0]`).
    pub placed: String,
    /// Why each listed memory was not used (`FBMEM[0.1] full: needs 8.00 MiB, 1.00 MiB free of
    /// 16.00 GiB`, `FBMEM not visible from CPU`, `no SOCKMEM on this machine`).
    pub why: Vec<String>,
    /// How many instances fell back this way.
    pub count: usize,
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` argument `{}` (region {}) on {} went to {}, a memory the mapper did not list ([{}]): {}",
            self.task,
            self.arg,
            self.region,
            self.proc_kind,
            self.placed,
            self.listed.join(", "),
            self.why.join("; ")
        )?;
        if self.count > 1 {
            write!(f, " ({} instances)", self.count)?;
        }
        Ok(())
    }
}

/// Collects records from every thread.
#[derive(Debug)]
pub struct Profiler {
    epoch: Instant,
    sim_clock: Option<Arc<AtomicU64>>,
    enabled: bool,
    tasks: Mutex<Vec<TaskRecord>>,
    copies: Mutex<Vec<CopyRecord>>,
    fallbacks: Mutex<Vec<Fallback>>,
}

impl Profiler {
    /// A profiler; when `enabled` is false nothing is recorded.
    pub fn new(enabled: bool) -> Profiler {
        Profiler {
            epoch: Instant::now(),
            sim_clock: None,
            enabled,
            tasks: Mutex::default(),
            copies: Mutex::default(),
            fallbacks: Mutex::default(),
        }
    }

    /// A profiler whose clock is a simulated one (ns) rather than the wall clock.
    pub fn simulated(enabled: bool, clock: Arc<AtomicU64>) -> Profiler {
        Profiler {
            sim_clock: Some(clock),
            ..Profiler::new(enabled)
        }
    }

    /// Nanoseconds since the runtime started (simulated time for a simulated run).
    pub fn now(&self) -> u64 {
        match &self.sim_clock {
            Some(c) => c.load(Ordering::Acquire),
            None => self.epoch.elapsed().as_nanos() as u64,
        }
    }

    /// True if recording.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records a task.
    pub fn task(&self, r: TaskRecord) {
        if self.enabled {
            if let Ok(mut v) = self.tasks.lock() {
                v.push(r);
            }
        }
    }

    /// Records a copy.
    pub fn copy(&self, r: CopyRecord) {
        if self.enabled {
            if let Ok(mut v) = self.copies.lock() {
                v.push(r);
            }
        }
    }

    /// Records a fallback (always, even when profiling is off); repeats of the same task,
    /// argument, processor kind and memory kind only count.
    pub fn fallback(&self, r: Fallback) {
        if let Ok(mut v) = self.fallbacks.lock() {
            let kind = |m: &str| m.split('[').next().unwrap_or(m).to_string();
            match v.iter_mut().find(|f| {
                f.task == r.task
                    && f.arg == r.arg
                    && f.proc_kind == r.proc_kind
                    && kind(&f.placed) == kind(&r.placed)
            }) {
                Some(f) => f.count += r.count,
                None => v.push(r),
            }
        }
    }

    /// The fallbacks recorded so far.
    pub fn fallbacks(&self) -> Vec<Fallback> {
        self.fallbacks.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// A snapshot of everything recorded so far.
    pub fn snapshot(&self) -> Profile {
        Profile {
            tasks: self.tasks.lock().map(|v| v.clone()).unwrap_or_default(),
            copies: self.copies.lock().map(|v| v.clone()).unwrap_or_default(),
            fallbacks: self.fallbacks(),
        }
    }
}

/// Recorded tasks and copies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// Tasks in completion order.
    pub tasks: Vec<TaskRecord>,
    /// Copies in completion order.
    pub copies: Vec<CopyRecord>,
    /// Instances placed in a memory the mapper did not list.
    pub fallbacks: Vec<Fallback>,
}

fn pair_label(c: &CopyRecord) -> String {
    match &c.src {
        Some(s) => format!("{s} -> {}", c.dst),
        None => format!("fill -> {}", c.dst),
    }
}

impl Profile {
    /// Busy time per processor in ns.
    pub fn busy_per_proc(&self) -> BTreeMap<ProcId, u64> {
        let mut m = BTreeMap::new();
        for t in &self.tasks {
            *m.entry(t.proc).or_insert(0) += t.end_ns.saturating_sub(t.start_ns);
        }
        m
    }

    /// Bytes per (source, destination) memory pair (fills use source `fill`).
    pub fn bytes_per_pair(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for c in &self.copies {
            *m.entry(pair_label(c)).or_insert(0) += c.bytes;
        }
        m
    }

    /// Copy bytes and counts per region, largest first.
    pub fn copies_by_region(&self) -> Vec<(String, u64, usize)> {
        top(self
            .copies
            .iter()
            .filter(|c| c.kind != CopyKind::Fill)
            .map(|c| (c.region.to_string(), c.bytes)))
    }

    /// Copy bytes and counts per task, largest first.
    pub fn copies_by_task(&self) -> Vec<(String, u64, usize)> {
        top(self
            .copies
            .iter()
            .filter(|c| c.kind != CopyKind::Fill)
            .map(|c| (c.task.to_string(), c.bytes)))
    }

    /// The text summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let span = self
            .tasks
            .iter()
            .map(|t| t.end_ns)
            .chain(self.copies.iter().map(|c| c.end_ns))
            .max()
            .unwrap_or(0)
            .saturating_sub(
                self.tasks
                    .iter()
                    .map(|t| t.start_ns)
                    .chain(self.copies.iter().map(|c| c.start_ns))
                    .min()
                    .unwrap_or(0),
            );
        let _ = writeln!(
            s,
            "profile: {} tasks, {} copies ({} bytes), span {:.3} ms",
            self.tasks.len(),
            self.copies.len(),
            self.copies.iter().map(|c| c.bytes).sum::<u64>(),
            span as f64 / 1e6
        );
        let _ = writeln!(s, "busy time per processor:");
        let mut counts: BTreeMap<ProcId, usize> = BTreeMap::new();
        for t in &self.tasks {
            *counts.entry(t.proc).or_insert(0) += 1;
        }
        for (p, ns) in self.busy_per_proc() {
            let _ = writeln!(
                s,
                "  {:<12} {:>10.3} ms  {:>6} tasks",
                p.to_string(),
                ns as f64 / 1e6,
                counts.get(&p).unwrap_or(&0)
            );
        }
        let _ = writeln!(s, "bytes per memory pair:");
        for (pair, b) in self.bytes_per_pair() {
            let _ = writeln!(s, "  {pair:<28} {b:>12}");
        }
        let _ = writeln!(s, "top copies by region:");
        for (r, b, n) in self.copies_by_region().into_iter().take(5) {
            let _ = writeln!(s, "  {r:<20} {b:>12} bytes in {n} copies");
        }
        let _ = writeln!(s, "top copies by task:");
        for (t, b, n) in self.copies_by_task().into_iter().take(5) {
            let _ = writeln!(s, "  {t:<20} {b:>12} bytes in {n} copies");
        }
        for f in &self.fallbacks {
            let _ = writeln!(s, "fallback: {f}");
        }
        s
    }

    /// Chrome trace JSON: one "X" event per task (pid = node, tid = processor) and per copy
    /// (pid = destination node, tid = memory pair), with thread-name metadata.
    pub fn chrome_trace(&self) -> serde_json::Value {
        let mut events = Vec::new();
        let mut tids: BTreeMap<(u32, String), u64> = BTreeMap::new();
        let mut tid_of = |node: u32, label: String, events: &mut Vec<serde_json::Value>| -> u64 {
            let n = tids.len() as u64 + 1;
            *tids.entry((node, label.clone())).or_insert_with(|| {
                events.push(json!({"name": "thread_name", "ph": "M", "pid": node, "tid": n, "args": {"name": label}}));
                n
            })
        };
        for t in &self.tasks {
            let tid = tid_of(t.proc.node, t.proc.to_string(), &mut events);
            events.push(json!({
                "name": &*t.name, "cat": "task", "ph": "X", "pid": t.proc.node, "tid": tid,
                "ts": t.start_ns as f64 / 1e3, "dur": t.end_ns.saturating_sub(t.start_ns) as f64 / 1e3,
                "args": {"point": t.point.coords(), "proc": t.proc.to_string()}
            }));
        }
        for c in &self.copies {
            let tid = tid_of(c.node, pair_label(c), &mut events);
            events.push(json!({
                "name": format!("{:?} {}.{}", c.kind, c.region, c.field), "cat": "copy", "ph": "X",
                "pid": c.node, "tid": tid,
                "ts": c.start_ns as f64 / 1e3, "dur": c.end_ns.saturating_sub(c.start_ns) as f64 / 1e3,
                "args": {"bytes": c.bytes, "task": &*c.task, "src": c.src.as_deref(), "dst": &*c.dst}
            }));
        }
        json!({"traceEvents": events, "displayTimeUnit": "ms"})
    }
}

/// Bytes in B, KiB, MiB or GiB.
pub fn human_bytes(b: u64) -> String {
    const K: f64 = 1024.0;
    let f = b as f64;
    if f >= K * K * K {
        format!("{:.2} GiB", f / (K * K * K))
    } else if f >= K * K {
        format!("{:.2} MiB", f / (K * K))
    } else if f >= K {
        format!("{:.1} KiB", f / K)
    } else {
        format!("{b} B")
    }
}

fn top(it: impl Iterator<Item = (String, u64)>) -> Vec<(String, u64, usize)> {
    let mut m: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for (k, b) in it {
        let e = m.entry(k).or_insert((0, 0));
        e.0 += b;
        e.1 += 1;
    }
    let mut v: Vec<(String, u64, usize)> = m.into_iter().map(|(k, (b, n))| (k, b, n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapper_core::ProcKind;

    fn sample() -> Profile {
        let p = ProcId {
            node: 0,
            kind: ProcKind::Gpu,
            index: 1,
        };
        Profile {
            fallbacks: Vec::new(),
            tasks: vec![
                TaskRecord {
                    name: "a".into(),
                    point: Point::p1(0),
                    proc: p,
                    start_ns: 0,
                    end_ns: 1000,
                },
                TaskRecord {
                    name: "b".into(),
                    point: Point::p1(1),
                    proc: p,
                    start_ns: 2000,
                    end_ns: 2500,
                },
            ],
            copies: vec![CopyRecord {
                kind: CopyKind::Copy,
                src: Some("SYSMEM[0.0]".into()),
                dst: "FBMEM[0.1]".into(),
                node: 0,
                bytes: 64,
                region: "grid".into(),
                field: "x".into(),
                task: "a".into(),
                start_ns: 10,
                end_ns: 20,
            }],
        }
    }

    #[test]
    fn summary_numbers() {
        let p = sample();
        assert_eq!(
            p.busy_per_proc().values().copied().collect::<Vec<_>>(),
            vec![1500]
        );
        assert_eq!(
            p.bytes_per_pair().get("SYSMEM[0.0] -> FBMEM[0.1]"),
            Some(&64)
        );
        assert_eq!(p.copies_by_region(), vec![("grid".to_string(), 64, 1)]);
        let s = p.summary();
        assert!(s.contains("GPU[0, 1]"), "{s}");
        assert!(
            s.starts_with("profile: 2 tasks, 1 copies (64 bytes), span 0.003 ms"),
            "{s}"
        );
    }

    #[test]
    fn chrome_trace_has_one_event_per_record() {
        let t = sample().chrome_trace();
        let ev = t["traceEvents"].as_array().unwrap();
        assert_eq!(ev.iter().filter(|e| e["ph"] == "X").count(), 3);
        assert_eq!(ev.iter().filter(|e| e["ph"] == "M").count(), 2);
        assert_eq!(ev.iter().find(|e| e["name"] == "b").unwrap()["ts"], 2.0);
    }
}
