//! Distributed execution: SPMD with control replication. Every process (rank) runs the same
//! top-level program on a machine whose node `r` is rank `r` ([`crate::MachineDesc::local_node`]);
//! dependence analysis, mapping and coherence are replicated and deterministic, so every rank
//! builds the same task graph with the same operation ids. The [`DistExecutor`] then runs only
//! this rank's share: a point task runs on the rank its processor's node names, and on the other
//! ranks it is a shadow that completes when the owner's completion message (its result, and the
//! reductions it folds into instances of the receiving rank) arrives. A copy between nodes is a
//! message of the packed instance piece from the source's rank to the destination's rank.
//! Instances of other nodes are virtual (accounted, never allocated).
//!
//! The [`Transport`] moves messages; the MPI one ([`mpi`], feature `mpi`) is installed once per
//! process with [`install`] and is what `--machine mpi` uses.

#[cfg(feature = "mpi")]
pub mod mpi;

use crate::analysis::OpId;
use crate::exec::cpu::HostExecutor;
use crate::exec::{Executor, Ready, Work};
use crate::machine::MachineDesc;
use crate::profile::CopyRecord;
use crate::sched::Scheduler;
use crate::task::{Privilege, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    /// A point task finished: its result (or error), from its owner to every other rank.
    Done = 1,
    /// A reduction a task folds into an instance of the receiving rank.
    Fold = 2,
    /// A copy between instances of two ranks.
    Copy = 3,
    /// A piece of a field read by the control program ([`crate::Runtime::read_field`]).
    Read = 4,
    /// The end-of-run status of a rank.
    Status = 5,
    /// The job failed (the message text); every rank stops.
    Abort = 6,
}

impl Class {
    fn from_u8(b: u8) -> Option<Class> {
        Some(match b {
            1 => Class::Done,
            2 => Class::Fold,
            3 => Class::Copy,
            4 => Class::Read,
            5 => Class::Status,
            6 => Class::Abort,
            _ => return None,
        })
    }
}

/// Identifies a message between two ranks: the runtime instance (`epoch`, counted in creation
/// order, the same on every rank), the class, the operation id (or control sequence number)
/// and a sub-index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The runtime instance.
    pub epoch: u32,
    /// What the message is for.
    pub class: Class,
    /// Operation id or sequence number.
    pub id: u64,
    /// Sub-index (argument and fold, piece).
    pub sub: u32,
}

/// Bytes of an encoded [`Key`].
pub const KEY_BYTES: usize = 17;

impl Key {
    /// The key as bytes (the header of a message).
    pub fn encode(&self) -> [u8; KEY_BYTES] {
        let mut b = [0u8; KEY_BYTES];
        b[0] = self.class as u8;
        b[1..5].copy_from_slice(&self.epoch.to_le_bytes());
        b[5..13].copy_from_slice(&self.id.to_le_bytes());
        b[13..17].copy_from_slice(&self.sub.to_le_bytes());
        b
    }

    /// The key of a message header; `None` if it is not one.
    pub fn decode(b: &[u8]) -> Option<Key> {
        let class = Class::from_u8(*b.first()?)?;
        Some(Key {
            class,
            epoch: u32::from_le_bytes(b.get(1..5)?.try_into().ok()?),
            id: u64::from_le_bytes(b.get(5..13)?.try_into().ok()?),
            sub: u32::from_le_bytes(b.get(13..17)?.try_into().ok()?),
        })
    }
}

/// What to do with a message once it arrived (or with the job's failure).
pub type Then = Box<dyn FnOnce(Result<Vec<u8>, String>) + Send>;

/// Moves messages between the ranks of a job.
pub trait Transport: Send + Sync {
    /// This process's rank.
    fn rank(&self) -> u32;
    /// Number of ranks.
    fn size(&self) -> u32;
    /// Sends `data` to rank `to` under `key` without waiting (the transport owns the buffer).
    fn send(&self, to: u32, key: Key, data: Vec<u8>);
    /// Calls `then` with the message rank `from` sends under `key` once it has arrived (at once
    /// if it already has), or with the job's failure.
    fn expect(&self, from: u32, key: Key, then: Then);
    /// Fails the job: pending and later [`Transport::expect`]s get `msg`, and so do every
    /// other rank's.
    fn fail(&self, msg: &str);
    /// The job's failure, if any.
    fn failure(&self) -> Option<String>;
    /// Bytes of region data (copies and reductions) sent to other ranks so far.
    fn bytes_sent(&self) -> u64;
    /// Delivers what is queued, waits for every rank to get here and shuts the transport down
    /// (call once, at the end of the process, after [`Transport::agree`]'s last use).
    fn finish(&self) {}
    /// This rank's index among the ranks on its host, and their number.
    fn local(&self) -> (u32, u32) {
        (0, 1)
    }
}

impl dyn Transport + '_ {
    /// Waits for the message rank `from` sends under `key`.
    pub fn recv(&self, from: u32, key: Key) -> Result<Vec<u8>, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.expect(
            from,
            key,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv()
            .unwrap_or_else(|_| Err("the transport stopped".to_string()))
    }

    /// The end of a run: every rank tells every other whether it succeeded; returns this
    /// rank's error, else the first error of the lowest failing rank, else `Ok`. Every rank
    /// gets the same answer unless the job already failed (then each gets the failure).
    pub fn agree(&self, mine: Result<(), String>) -> Result<(), String> {
        static ROUND: AtomicU64 = AtomicU64::new(0);
        let round = ROUND.fetch_add(1, Ordering::Relaxed);
        let key = Key {
            epoch: u32::MAX,
            class: Class::Status,
            id: round,
            sub: 0,
        };
        let payload = match &mine {
            Ok(()) => vec![0u8],
            Err(e) => {
                let mut v = vec![1u8];
                v.extend_from_slice(e.as_bytes());
                v
            }
        };
        let me = self.rank();
        for r in 0..self.size() {
            if r != me {
                self.send(r, key, payload.clone());
            }
        }
        let mut first: Option<String> = None;
        for r in 0..self.size() {
            if r == me {
                if let Err(e) = &mine {
                    first = first.or(Some(e.clone()));
                }
                continue;
            }
            match self.recv(r, key) {
                Ok(b) if b.first() == Some(&0) => {}
                Ok(b) => {
                    let e = String::from_utf8_lossy(b.get(1..).unwrap_or_default()).into_owned();
                    first = first.or(Some(e));
                }
                Err(e) => first = first.or(Some(e)),
            }
        }
        mine?;
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Matches arrived messages with the continuations waiting for them; the part of a transport
/// that does not depend on how bytes move.
#[derive(Default)]
pub struct Mailbox {
    inner: Mutex<MailboxInner>,
}

#[derive(Default)]
struct MailboxInner {
    arrived: HashMap<(u32, Key), Vec<u8>>,
    waiting: HashMap<(u32, Key), Then>,
    failed: Option<String>,
}

impl Mailbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, MailboxInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A message from rank `from` arrived.
    pub fn deliver(&self, from: u32, key: Key, data: Vec<u8>) {
        if key.class == Class::Abort {
            self.fail(&String::from_utf8_lossy(&data));
            return;
        }
        let then = {
            let mut g = self.lock();
            match g.waiting.remove(&(from, key)) {
                Some(t) => Some((t, data)),
                None => {
                    g.arrived.insert((from, key), data);
                    None
                }
            }
        };
        if let Some((t, data)) = then {
            t(Ok(data));
        }
    }

    /// See [`Transport::expect`].
    pub fn expect(&self, from: u32, key: Key, then: Then) {
        let now = {
            let mut g = self.lock();
            if let Some(e) = &g.failed {
                Some(Err(e.clone()))
            } else if let Some(d) = g.arrived.remove(&(from, key)) {
                Some(Ok(d))
            } else {
                g.waiting.insert((from, key), then);
                return;
            }
        };
        if let Some(r) = now {
            then(r);
        }
    }

    /// Records the job's failure (the first one wins) and fails every waiting continuation;
    /// true if this was the first failure.
    pub fn fail(&self, msg: &str) -> bool {
        let (first, waiting) = {
            let mut g = self.lock();
            let first = g.failed.is_none();
            if first {
                g.failed = Some(msg.to_string());
            }
            let w: Vec<Then> = g.waiting.drain().map(|(_, t)| t).collect();
            (first, w)
        };
        let e = self.failure().unwrap_or_else(|| msg.to_string());
        for t in waiting {
            t(Err(e.clone()));
        }
        first
    }

    /// The job's failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.lock().failed.clone()
    }
}

static TRANSPORT: OnceLock<Arc<dyn Transport>> = OnceLock::new();
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// Installs this process's transport (once); false if one was already installed.
pub fn install(t: Arc<dyn Transport>) -> bool {
    TRANSPORT.set(t).is_ok()
}

/// This process's transport, if one is installed.
pub fn transport() -> Option<Arc<dyn Transport>> {
    TRANSPORT.get().cloned()
}

/// This rank's index among the ranks on its host and their number; `(0, 1)` without a
/// transport.
pub fn local_rank() -> (u32, u32) {
    transport().map_or((0, 1), |t| t.local())
}

/// Every rank's `mine`, by rank (a collective: every rank calls it in the same order).
pub fn exchange(t: &dyn Transport, mine: &[u64]) -> Result<Vec<Vec<u64>>, String> {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    let key = Key {
        epoch: u32::MAX - 1,
        class: Class::Status,
        id: ROUND.fetch_add(1, Ordering::Relaxed),
        sub: 0,
    };
    let bytes: Vec<u8> = mine.iter().flat_map(|v| v.to_le_bytes()).collect();
    for r in 0..t.size() {
        if r != t.rank() {
            t.send(r, key, bytes.clone());
        }
    }
    (0..t.size())
        .map(|r| {
            let b = if r == t.rank() {
                bytes.clone()
            } else {
                t.recv(r, key)?
            };
            Ok(b.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect())
        })
        .collect()
}

/// The next runtime epoch (runtimes are created in the same order on every rank).
pub(crate) fn next_epoch() -> u32 {
    EPOCH.fetch_add(1, Ordering::Relaxed)
}

/// Encodes a task result for a [`Class::Done`] message.
pub fn encode_result(r: &Result<Value, String>) -> Vec<u8> {
    let mut b = Vec::new();
    match r {
        Ok(Value::None) => b.push(0),
        Ok(Value::F64(x)) => {
            b.push(1);
            b.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Ok(Value::I64(x)) => {
            b.push(2);
            b.extend_from_slice(&x.to_le_bytes());
        }
        Ok(Value::Bytes(v)) => {
            b.push(3);
            b.extend_from_slice(v);
        }
        Err(e) => {
            b.push(4);
            b.extend_from_slice(e.as_bytes());
        }
    }
    b
}

/// Decodes [`encode_result`].
pub fn decode_result(b: &[u8]) -> Result<Value, String> {
    let rest = b.get(1..).unwrap_or_default();
    let word = || -> Result<[u8; 8], String> {
        rest.try_into()
            .map_err(|_| format!("a task result message of {} bytes is malformed", b.len()))
    };
    match b.first() {
        Some(0) => Ok(Value::None),
        Some(1) => Ok(Value::F64(f64::from_bits(u64::from_le_bytes(word()?)))),
        Some(2) => Ok(Value::I64(i64::from_le_bytes(word()?))),
        Some(3) => Ok(Value::Bytes(rest.to_vec())),
        Some(4) => Err(String::from_utf8_lossy(rest).into_owned()),
        _ => Err(format!(
            "a task result message of {} bytes is malformed",
            b.len()
        )),
    }
}

/// Runs this rank's share of a replicated task graph (see the module documentation): local
/// work on a [`HostExecutor`], remote work as shadows completed by messages.
pub struct DistExecutor {
    host: HostExecutor,
    link: Arc<dyn Transport>,
    rank: u32,
    epoch: u32,
}

impl DistExecutor {
    /// The executor of rank `link.rank()` for `machine`, in runtime epoch `epoch`.
    pub fn new(machine: &MachineDesc, link: Arc<dyn Transport>, epoch: u32) -> DistExecutor {
        DistExecutor {
            host: HostExecutor::new(machine),
            rank: link.rank(),
            link,
            epoch,
        }
    }

    fn key(&self, class: Class, id: OpId, sub: u32) -> Key {
        Key {
            epoch: self.epoch,
            class,
            id,
            sub,
        }
    }
}

/// Completes `id` once `n` more calls of the returned counter's `done` happened.
struct Countdown {
    left: AtomicU32,
    id: OpId,
    sched: Arc<Scheduler>,
}

impl Countdown {
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.sched.complete(self.id);
        }
    }
}

impl Executor for DistExecutor {
    fn name(&self) -> &str {
        "mpi"
    }

    fn dispatch(&self, op: Ready) {
        let Ready { id, work, sched } = op;
        match work {
            Work::Task(mut t) if t.proc.node == self.rank => {
                let (link, rank) = (self.link.clone(), self.rank);
                let (done, fold) = (self.key(Class::Done, id, 0), self.key(Class::Fold, id, 0));
                t.after = Some(Box::new(move |t, result| {
                    let msg = encode_result(result);
                    for r in 0..link.size() {
                        if r != rank {
                            link.send(r, done, msg.clone());
                        }
                    }
                    if let Err(e) = result {
                        link.fail(e);
                        return;
                    }
                    for (i, a) in t.args.iter().enumerate() {
                        for (j, f) in a.folds.iter().enumerate() {
                            if f.target.mem.node == rank {
                                continue;
                            }
                            let data = match a.inst.pack(f.field, &f.space) {
                                Ok(d) => d,
                                Err(e) => {
                                    link.fail(&e);
                                    return;
                                }
                            };
                            let key = Key {
                                sub: fold_sub(i, j),
                                ..fold
                            };
                            link.send(f.target.mem.node, key, data);
                        }
                    }
                }));
                self.host.dispatch(Ready {
                    id,
                    work: Work::Task(t),
                    sched,
                });
            }
            Work::Task(t) => {
                // A shadow: the owner's result, then the reductions into this rank's instances.
                let owner = t.proc.node;
                let t = Arc::new(*t);
                let mut folds = Vec::new();
                for (i, a) in t.args.iter().enumerate() {
                    if let Privilege::Reduce(op) = a.privilege {
                        for (j, f) in a.folds.iter().enumerate() {
                            if f.target.mem.node == self.rank {
                                folds.push((i, j, op));
                            }
                        }
                    }
                }
                let cd = Arc::new(Countdown {
                    left: AtomicU32::new(1 + folds.len() as u32),
                    id,
                    sched: sched.clone(),
                });
                let (t2, cd2, s2) = (t.clone(), cd.clone(), sched.clone());
                self.link.expect(
                    owner,
                    self.key(Class::Done, id, 0),
                    Box::new(move |m| {
                        let r = m.and_then(|b| decode_result(&b));
                        if let Err(e) = &r {
                            s2.fail(e.clone());
                        }
                        t2.promise.set(r);
                        cd2.done();
                    }),
                );
                for (i, j, op) in folds {
                    let (t2, cd2, s2) = (t.clone(), cd.clone(), sched.clone());
                    self.link.expect(
                        owner,
                        self.key(Class::Fold, id, fold_sub(i, j)),
                        Box::new(move |m| {
                            let r = m.and_then(|b| {
                                let a = t2.args.get(i).ok_or("fold argument")?;
                                let f = a.folds.get(j).ok_or("fold")?;
                                let start = s2.profiler.now();
                                let _g =
                                    f.target.fold_lock.lock().unwrap_or_else(|p| p.into_inner());
                                let bytes = f.target.fold_packed(f.field, &f.space, op, &b)?;
                                let end = s2.profiler.now();
                                s2.profiler.copy(crate::exec::fold_record(
                                    a, f, bytes, &t2.name, start, end,
                                ));
                                Ok(())
                            });
                            if let Err(e) = r {
                                s2.fail(e);
                            }
                            cd2.done();
                        }),
                    );
                }
            }
            Work::Copy(c) => {
                let dst = c.dst.mem.node;
                let src = c.src.as_ref().map_or(dst, |s| s.mem.node);
                if src == dst {
                    if dst == self.rank {
                        self.host.dispatch(Ready {
                            id,
                            work: Work::Copy(c),
                            sched,
                        });
                    } else {
                        sched.complete(id);
                    }
                } else if src == self.rank {
                    // The sending half: the piece leaves once the source is valid.
                    match c.src.as_ref().map(|s| s.pack(c.field, &c.space)) {
                        Some(Ok(data)) => self.link.send(dst, self.key(Class::Copy, id, 0), data),
                        Some(Err(e)) => {
                            let e = format!(
                                "copy of `{}.{}` for task `{}`: {e}",
                                c.dst.region_name, c.field_name, c.task
                            );
                            sched.fail(e.clone());
                            self.link.fail(&e);
                        }
                        None => {}
                    }
                    sched.complete(id);
                } else if dst == self.rank {
                    // The receiving half: the piece lands once the destination may be written.
                    let s2 = sched.clone();
                    let start = sched.profiler.now();
                    self.link.expect(
                        src,
                        self.key(Class::Copy, id, 0),
                        Box::new(move |m| {
                            match m.and_then(|b| c.dst.unpack(c.field, &c.space, &b)) {
                                Ok(bytes) => s2.profiler.copy(CopyRecord {
                                    kind: c.kind,
                                    src: c.src.as_ref().map(|s| Arc::from(s.mem.label.as_str())),
                                    dst: Arc::from(c.dst.mem.label.as_str()),
                                    node: c.dst.mem.node,
                                    bytes,
                                    region: c.dst.region_name.clone(),
                                    field: c.field_name.clone(),
                                    task: c.task.clone(),
                                    start_ns: start,
                                    end_ns: s2.profiler.now(),
                                }),
                                Err(e) => s2.fail(format!(
                                    "copy of `{}.{}` for task `{}`: {e}",
                                    c.dst.region_name, c.field_name, c.task
                                )),
                            }
                            s2.complete(id);
                        }),
                    );
                } else {
                    sched.complete(id);
                }
            }
            Work::Join => sched.complete(id),
        }
    }

    fn control_waits(&self, waiting: bool) {
        self.host.control_waits(waiting);
    }

    fn shutdown(&self) {
        self.host.shutdown();
    }
}

/// The sub-index of fold `j` of argument `i`.
fn fold_sub(i: usize, j: usize) -> u32 {
    ((i as u32) << 16) | (j as u32 & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(class: Class, id: u64, sub: u32) -> Key {
        Key {
            epoch: 3,
            class,
            id,
            sub,
        }
    }

    #[test]
    fn keys_and_results_round_trip() {
        for k in [
            key(Class::Done, 1, 0),
            key(Class::Fold, u64::MAX, fold_sub(2, 5)),
            key(Class::Abort, 0, u32::MAX),
        ] {
            assert_eq!(Key::decode(&k.encode()), Some(k));
        }
        assert_eq!(Key::decode(&[9; KEY_BYTES]), None);
        assert_eq!(Key::decode(&[1, 0]), None);
        for r in [
            Ok(Value::None),
            Ok(Value::F64(-0.1)),
            Ok(Value::I64(i64::MIN)),
            Ok(Value::Bytes(vec![1, 2, 3])),
            Err("task `x` failed".to_string()),
        ] {
            assert_eq!(decode_result(&encode_result(&r)), r);
        }
        assert_eq!(
            decode_result(&[1, 2]),
            Err("a task result message of 2 bytes is malformed".to_string())
        );
    }

    #[test]
    fn mailbox_matches_messages_in_either_order_and_fails_waiters() {
        type Log = Arc<Mutex<Vec<Result<Vec<u8>, String>>>>;
        let m = Mailbox::default();
        let got: Log = Arc::new(Mutex::new(Vec::new()));
        let sink = |g: &Log| -> Then {
            let g = g.clone();
            Box::new(move |r| g.lock().unwrap().push(r))
        };
        // Arrived first, then expected; expected first, then arrived; same key from another
        // rank is a different message.
        m.deliver(1, key(Class::Copy, 7, 0), vec![7]);
        m.expect(1, key(Class::Copy, 7, 0), sink(&got));
        m.expect(2, key(Class::Copy, 7, 0), sink(&got));
        m.deliver(2, key(Class::Copy, 7, 0), vec![8]);
        m.expect(1, key(Class::Done, 9, 0), sink(&got));
        assert_eq!(*got.lock().unwrap(), vec![Ok(vec![7]), Ok(vec![8])]);
        // An abort fails the waiting continuation and every later one with its text.
        m.deliver(3, key(Class::Abort, 0, 0), b"rank 3 failed".to_vec());
        m.expect(1, key(Class::Done, 10, 0), sink(&got));
        assert!(!m.fail("a later failure"));
        assert_eq!(m.failure().as_deref(), Some("rank 3 failed"));
        let g = got.lock().unwrap();
        assert_eq!(g[2], Err("rank 3 failed".to_string()));
        assert_eq!(g[3], Err("rank 3 failed".to_string()));
    }
}
