//! Writes the files in `state_dir` off the core loop: one thread of its
//! own ("vippy-state") takes them in order from a queue, so a slow or hung
//! disk never holds up heartbeats, and a later write of a file can never
//! be overtaken by an earlier one. Each write is atomic and durable: a
//! temporary file, fsync, rename over the old one, fsync of the directory.
//!
//! One writer per process, started on first use: every caller queues to
//! the same FIFO, which is what keeps the order.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;
use tracing::warn;

enum Job {
    /// Replace the file with `text`, or remove it (`None`); `what` names it
    /// in a warning ("the drains").
    Write {
        path: PathBuf,
        text: Option<String>,
        what: &'static str,
    },
    /// Answered once every job before it is done.
    Flush(oneshot::Sender<()>),
}

fn writer() -> &'static Mutex<Option<mpsc::Sender<Job>>> {
    static WRITER: OnceLock<Mutex<Option<mpsc::Sender<Job>>>> = OnceLock::new();
    WRITER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("vippy-state".into())
            .spawn(move || {
                for job in rx {
                    run(job);
                }
            });
        match started {
            Ok(_) => Mutex::new(Some(tx)),
            Err(e) => {
                warn!("cannot start the state writer thread ({e}); writing state files inline");
                Mutex::new(None)
            }
        }
    })
}

fn submit(job: Job) {
    let tx = writer().lock().unwrap_or_else(|e| e.into_inner()).clone();
    match tx {
        Some(tx) => {
            if let Err(mpsc::SendError(job)) = tx.send(job) {
                run(job);
            }
        }
        // No thread: as before, on the caller.
        None => run(job),
    }
}

/// Queues `text` as the new content of `path` (`None`: remove it). Never
/// waits; a failure is logged as "cannot keep {what} in {path}".
pub fn queue(path: PathBuf, text: Option<String>, what: &'static str) {
    submit(Job::Write { path, text, what });
}

/// Resolves once everything queued so far is on disk (or failed).
pub fn flushed() -> oneshot::Receiver<()> {
    let (done, written) = oneshot::channel();
    submit(Job::Flush(done));
    written
}

fn run(job: Job) {
    match job {
        Job::Write { path, text, what } => {
            let result = match &text {
                Some(text) => write_atomically(&path, text),
                None => remove_durably(&path),
            };
            if let Err(e) = result {
                warn!("cannot keep {what} in {}: {e}", path.display());
            }
        }
        Job::Flush(done) => {
            let _ = done.send(());
        }
    }
}

/// A reader sees the old file or the new one, never half of one, and after
/// a crash the new one once this returned.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let tmp = dir.join(name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn remove_durably(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// The rename (or removal) itself survives a crash once its directory is
/// synced.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_of_one_file_land_in_order_and_leave_no_temporary() {
        let dir = std::env::temp_dir().join(format!("vippy-state-writer-{}", std::process::id()));
        let path = dir.join("drains.json");
        for i in 0..200 {
            queue(path.clone(), Some(format!("{i}\n")), "test");
        }
        flushed().blocking_recv().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "199\n");
        assert!(!dir.join("drains.json.tmp").exists());
        queue(path.clone(), None, "test");
        queue(path.clone(), Some("last\n".into()), "test");
        flushed().blocking_recv().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "last\n");
        queue(path.clone(), None, "test");
        flushed().blocking_recv().unwrap();
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).ok();
    }
}
