//! The bounded queue between whoever logs and the one thread that writes.
//!
//! A log daemon that stops reading (a stuck journald, a full `/dev/log`)
//! makes a blocking send wait; if the core loop made that send, heartbeats
//! would stop until the systemd watchdog fired. So a task that logs only
//! queues the line ([`Queue::push`] never waits), and a thread of its own
//! ("vippy-log") formats and writes it, blocking on the sink if it must.
//! When the queue is full the line is dropped and counted
//! ([`dropped_total`], `vippy_log_dropped_total`).
//!
//! std's `sync_channel` is the queue: bounded, `try_send` without waiting,
//! FIFO, and no more is needed for one consumer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::drivers::Sink;
use super::format::Entry;
use super::lock;

/// Lines waiting for the writer at most; beyond that they are dropped.
/// About 1 MiB of vippy's short lines, minutes of its busiest logging.
pub const QUEUE_LINES: usize = 4096;

/// Lines dropped by every queue of this process (one in vippyd).
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Lines dropped because the log writer fell behind, since the start.
pub fn dropped_total() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

enum Job {
    Line(Entry),
    /// A new driver (reload), in order with the lines around it.
    Sink {
        generation: u64,
        sink: Box<Sink>,
    },
    /// Answered once every job before it is written.
    Flush(mpsc::Sender<()>),
}

/// A sink waiting for the writer, newest generation wins.
type Pending = Arc<Mutex<Option<(u64, Sink)>>>;

pub(super) struct Queue {
    way: Way,
    dropped: AtomicU64,
    generation: AtomicU64,
}

enum Way {
    Writer {
        tx: SyncSender<Job>,
        /// A sink that did not fit in a full queue.
        pending: Pending,
    },
    /// No thread could be started: written by the caller, as before.
    Inline(Mutex<Option<Sink>>),
}

impl Queue {
    /// Starts the writer thread with `sink`; `warning` says why logging
    /// is written inline instead, when the thread cannot start.
    pub(super) fn start(sink: Sink) -> (Queue, Option<String>) {
        let (tx, rx) = mpsc::sync_channel(QUEUE_LINES);
        let pending: Pending = Arc::new(Mutex::new(Some((0, sink))));
        let theirs = pending.clone();
        let spawned = std::thread::Builder::new()
            .name("vippy-log".into())
            .spawn(move || write_all(rx, theirs));
        let (way, warning) = match spawned {
            Ok(_) => (Way::Writer { tx, pending }, None),
            Err(e) => {
                let sink = lock(&pending).take().map(|(_, s)| s);
                let warning =
                    format!("cannot start the log writer thread ({e}); writing log lines inline");
                (Way::Inline(Mutex::new(sink)), Some(warning))
            }
        };
        let queue = Queue {
            way,
            dropped: AtomicU64::new(0),
            generation: AtomicU64::new(0),
        };
        (queue, warning)
    }

    /// Queues `entry` for the writer, or drops and counts it when the queue
    /// is full. Never waits.
    pub(super) fn push(&self, entry: Entry) {
        match &self.way {
            Way::Writer { tx, .. } => {
                if tx.try_send(Job::Line(entry)).is_err() {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                    DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
                }
            }
            Way::Inline(sink) => {
                if let Some(sink) = lock(sink).as_mut() {
                    sink.write(&entry);
                }
            }
        }
    }

    /// Lines after this one go to `sink`. Never waits.
    pub(super) fn set_sink(&self, sink: Sink) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.way {
            Way::Writer { tx, pending } => {
                let job = Job::Sink {
                    generation,
                    sink: Box::new(sink),
                };
                if let Err(TrySendError::Full(Job::Sink { generation, sink })) = tx.try_send(job) {
                    let mut slot = lock(pending);
                    if slot.as_ref().is_none_or(|(g, _)| *g < generation) {
                        *slot = Some((generation, *sink));
                    }
                }
            }
            Way::Inline(current) => *lock(current) = Some(sink),
        }
    }

    /// Waits until every line queued so far is written, at most `timeout`;
    /// false when the writer did not get there in time.
    pub(super) fn flush(&self, timeout: Duration) -> bool {
        let Way::Writer { tx, .. } = &self.way else {
            return true;
        };
        let deadline = Instant::now() + timeout;
        let (done, written) = mpsc::channel();
        let mut job = Job::Flush(done);
        loop {
            match tx.try_send(job) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(again)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    job = again;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        written.recv_timeout(left).is_ok()
    }

    /// Lines this queue dropped.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread: until every sender is gone.
fn write_all(rx: Receiver<Job>, pending: Pending) {
    let mut current = lock(&pending).take();
    for job in rx {
        let newer = lock(&pending).take();
        if let Some((generation, sink)) = newer
            && current.as_ref().is_none_or(|(g, _)| *g < generation)
        {
            current = Some((generation, sink));
        }
        match job {
            Job::Line(entry) => {
                if let Some((_, sink)) = &mut current {
                    sink.write(&entry);
                }
            }
            Job::Sink { generation, sink } => {
                if current.as_ref().is_none_or(|(g, _)| *g < generation) {
                    current = Some((generation, *sink));
                }
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}
