//! The MPI transport (feature `mpi`, the `mpi` crate over the system's OpenMPI or MPICH). One
//! communication thread per process owns MPI: it initializes it, starts a non-blocking send
//! (`MPI_Isend`) for every queued message, receives every arriving one with a matched probe and
//! a non-blocking matched receive (`MPI_Improbe`, `MPI_Imrecv`), hands it to the [`Mailbox`],
//! and at the end waits for every rank (`MPI_Ibarrier`) and finalizes MPI. All messages use one
//! tag; each starts with its [`Key`]. Other threads only queue messages and register
//! continuations, so MPI needs no more than `MPI_THREAD_SERIALIZED`.

use super::{Key, Mailbox, Then, Transport, KEY_BYTES};
use mpi::environment::Threading;
use mpi::request::{Request, StaticScope};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The tag of every message.
const TAG: i32 = 17;

/// The MPI transport of this process.
pub struct MpiTransport {
    rank: u32,
    size: u32,
    /// Rank among the ranks of this host, and their number.
    local: (u32, u32),
    mailbox: Mailbox,
    out: Mutex<Vec<(u32, Vec<u8>)>>,
    wake: Condvar,
    stop: AtomicBool,
    sent: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl MpiTransport {
    /// This rank's index among the ranks on its host, and their number (for sharing the
    /// host's GPUs).
    pub fn local(&self) -> (u32, u32) {
        self.local
    }

    fn queue(&self, to: u32, key: Key, data: &[u8]) {
        let mut m = Vec::with_capacity(KEY_BYTES + data.len());
        m.extend_from_slice(&key.encode());
        m.extend_from_slice(data);
        self.out
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((to, m));
        self.wake.notify_one();
    }
}

impl Transport for MpiTransport {
    fn rank(&self) -> u32 {
        self.rank
    }

    fn size(&self) -> u32 {
        self.size
    }

    fn send(&self, to: u32, key: Key, data: Vec<u8>) {
        if to == self.rank {
            self.mailbox.deliver(to, key, data);
            return;
        }
        if matches!(key.class, super::Class::Copy | super::Class::Fold) {
            self.sent.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        self.queue(to, key, &data);
    }

    fn expect(&self, from: u32, key: Key, then: Then) {
        self.mailbox.expect(from, key, then);
    }

    fn fail(&self, msg: &str) {
        if self.mailbox.fail(msg) {
            let key = Key {
                epoch: u32::MAX,
                class: super::Class::Abort,
                id: 0,
                sub: 0,
            };
            for r in 0..self.size {
                if r != self.rank {
                    self.queue(r, key, msg.as_bytes());
                }
            }
        }
    }

    fn failure(&self) -> Option<String> {
        self.mailbox.failure()
    }

    fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn local(&self) -> (u32, u32) {
        self.local
    }

    fn finish(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_one();
        let h = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = h {
            let _ = h.join();
        }
    }
}

/// Initializes MPI on a new communication thread and returns the transport (install it with
/// [`super::install`]). With `time_limit`, the job is aborted (every rank, through
/// `MPI_Abort`) when it runs longer, with the message printed by rank 0.
pub fn start(time_limit: Option<Duration>) -> Result<Arc<MpiTransport>, String> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<Arc<MpiTransport>, String>>();
    let handle = std::thread::Builder::new()
        .name("mpi".into())
        .spawn(move || {
            let Some((universe, _)) = mpi::initialize_with_threading(Threading::Serialized) else {
                let _ = tx.send(Err("MPI is already initialized in this process".into()));
                return;
            };
            let world = universe.world();
            let rank = world.rank() as u32;
            let size = world.size() as u32;
            let host = world.split_shared(world.rank());
            let local = (host.rank() as u32, host.size() as u32);
            // Communicators are freed before MPI is finalized (when `universe` drops).
            drop(host);
            let t = Arc::new(MpiTransport {
                rank,
                size,
                local,
                mailbox: Mailbox::default(),
                out: Mutex::new(Vec::new()),
                wake: Condvar::new(),
                stop: AtomicBool::new(false),
                sent: AtomicU64::new(0),
                thread: Mutex::new(None),
            });
            let _ = tx.send(Ok(t.clone()));
            serve(
                &t,
                &world,
                time_limit.map(|d| Instant::now() + d),
                time_limit,
            );
            drop(world);
            drop(universe);
        })
        .map_err(|e| format!("cannot start the MPI thread: {e}"))?;
    let t = rx
        .recv()
        .map_err(|_| "the MPI thread stopped while initializing MPI".to_string())??;
    *t.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    Ok(t)
}

/// A buffer leaked for the lifetime of a non-blocking request, reclaimed when it completes.
struct Owned(*mut [u8]);

// SAFETY: the pointer is only dereferenced by the communication thread that owns it.
unsafe impl Send for Owned {}

impl Owned {
    fn new(b: Vec<u8>) -> (Owned, &'static mut [u8]) {
        let leaked: &'static mut [u8] = Box::leak(b.into_boxed_slice());
        (Owned(leaked as *mut [u8]), leaked)
    }

    /// The buffer back.
    ///
    /// # Safety
    /// The request that used the buffer has completed.
    unsafe fn take(self) -> Vec<u8> {
        // SAFETY: the pointer came from `Box::leak` and nothing uses it any more.
        unsafe { Box::from_raw(self.0) }.into_vec()
    }
}

/// The loop of the communication thread.
fn serve(
    t: &MpiTransport,
    world: &SimpleCommunicator,
    deadline: Option<Instant>,
    limit: Option<Duration>,
) {
    let mut sends: Vec<(Request<'static, [u8], StaticScope>, Owned)> = Vec::new();
    let mut recvs: Vec<(Request<'static, [u8], StaticScope>, Owned, u32)> = Vec::new();
    let mut barrier: Option<Request<'static, ()>> = None;
    let mut released = false;
    let mut nap = Duration::from_micros(1);
    loop {
        let mut busy = false;
        let batch = std::mem::take(&mut *t.out.lock().unwrap_or_else(|p| p.into_inner()));
        for (to, m) in batch {
            let (own, buf) = Owned::new(m);
            let req =
                world
                    .process_at_rank(to as i32)
                    .immediate_send_with_tag(StaticScope, &*buf, TAG);
            sends.push((req, own));
            busy = true;
        }
        while let Some((msg, status)) = world.any_process().immediate_matched_probe_with_tag(TAG) {
            let n = status.count(u8::equivalent_datatype()).max(0) as usize;
            let (own, buf) = Owned::new(vec![0u8; n]);
            let req = msg.immediate_matched_receive_into(StaticScope, buf);
            recvs.push((req, own, status.source_rank() as u32));
            busy = true;
        }
        let mut i = 0;
        while i < sends.len() {
            let (req, own) = sends.swap_remove(i);
            match req.test() {
                Ok(_) => {
                    // SAFETY: the send completed.
                    drop(unsafe { own.take() });
                    busy = true;
                }
                Err(req) => {
                    sends.push((req, own));
                    let last = sends.len() - 1;
                    sends.swap(i, last);
                    i += 1;
                }
            }
        }
        let mut i = 0;
        while i < recvs.len() {
            let (req, own, from) = recvs.swap_remove(i);
            match req.test() {
                Ok(_) => {
                    // SAFETY: the receive completed.
                    let m = unsafe { own.take() };
                    if let Some(key) = m.get(..KEY_BYTES).and_then(Key::decode) {
                        t.mailbox.deliver(from, key, m[KEY_BYTES..].to_vec());
                    }
                    busy = true;
                }
                Err(req) => {
                    recvs.push((req, own, from));
                    let last = recvs.len() - 1;
                    recvs.swap(i, last);
                    i += 1;
                }
            }
        }
        if let (Some(d), Some(l)) = (deadline, limit) {
            if Instant::now() > d {
                if t.rank == 0 {
                    eprintln!(
                        "error: the job ran past its time limit of {} s (--time-limit); every rank is stopped",
                        l.as_secs_f64()
                    );
                }
                world.abort(3);
            }
        }
        if t.stop.load(Ordering::Acquire)
            && sends.is_empty()
            && t.out.lock().map(|o| o.is_empty()).unwrap_or(true)
        {
            if released {
                if recvs.is_empty() {
                    return;
                }
            } else {
                match barrier.take() {
                    None => barrier = Some(world.immediate_barrier()),
                    Some(b) => match b.test() {
                        Ok(_) => released = true,
                        Err(b) => barrier = Some(b),
                    },
                }
            }
        }
        if busy {
            nap = Duration::from_micros(1);
            continue;
        }
        // Nothing happened: wait for a queued message or, a little longer each time, for
        // messages to arrive.
        let g = t.out.lock().unwrap_or_else(|p| p.into_inner());
        if g.is_empty() && !t.stop.load(Ordering::Acquire) {
            let _ = t.wake.wait_timeout(g, nap);
        }
        nap = (nap * 2).min(Duration::from_micros(500));
    }
}
