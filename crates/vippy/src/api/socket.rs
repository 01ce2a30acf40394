//! The management socket: created safely, served with peer-credential
//! checks, removed on shutdown.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use nix::sys::stat::{Mode, umask};
use tokio::net::UnixListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ApiError, ApiState, routes};

/// How long open connections (an event stream, a request in flight) get to
/// finish after shutdown.
const DRAIN: Duration = Duration::from_secs(2);
/// Connections served at once; more are closed at once, so local clients
/// cannot use up vippyd's file descriptors (which checks, hooks and the
/// announcers need). `/events` followers count too.
pub const MAX_CONNECTIONS: usize = 64;
/// Refused peers (not allowed to use the API) answered at once, at most.
const MAX_REFUSED: usize = 8;
/// A client must send a request's headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound management socket, not yet serving. Dropping it removes the
/// socket file (if it is still the one we made).
#[derive(Debug)]
pub struct ApiSocket {
    listener: Option<UnixListener>,
    path: PathBuf,
    /// (device, inode) of the socket file we created, so we never remove
    /// one a newer daemon put in its place.
    identity: (u64, u64),
}

impl ApiSocket {
    /// Creates the socket at `path` with file mode `mode` (e.g. 0o600).
    ///
    /// An existing socket file is replaced only when nothing answers on it
    /// (a stale one from a crash); a live daemon is an error, and so is a
    /// path that is anything but a socket (it is left untouched). Must be
    /// called inside a tokio runtime.
    pub fn bind(path: &Path, mode: u32) -> Result<ApiSocket, ApiError> {
        let mode = mode & 0o777;
        remove_stale(path)?;

        // The socket is created with 0777 & !umask: set the umask so it is
        // born with `mode` and never more open, then chmod to be explicit.
        // The umask is process-wide; the window is one bind(2), and during
        // it other threads can only create files more restrictive than
        // they asked for, never less.
        let old = umask(Mode::from_bits_truncate(!mode & 0o777));
        let bound = std::os::unix::net::UnixListener::bind(path);
        umask(old);
        let listener = bound.map_err(|source| ApiError::Io {
            context: "cannot create the management socket",
            path: path.to_owned(),
            source,
        })?;
        let meta = std::fs::symlink_metadata(path).map_err(|source| ApiError::Io {
            context: "cannot stat the management socket",
            path: path.to_owned(),
            source,
        })?;
        // From here on, Drop removes the file on any error.
        let mut socket = ApiSocket {
            listener: None,
            path: path.to_owned(),
            identity: (meta.dev(), meta.ino()),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| ApiError::Io {
                context: "cannot set the mode of the management socket",
                path: path.to_owned(),
                source,
            },
        )?;
        let io_err = |source| ApiError::Io {
            context: "cannot listen on the management socket",
            path: path.to_owned(),
            source,
        };
        listener.set_nonblocking(true).map_err(io_err)?;
        socket.listener =
            Some(crate::realtime::off_loop(|| UnixListener::from_std(listener)).map_err(io_err)?);
        tracing::info!(path = %path.display(), mode = format!("{mode:04o}"), "management API listening");
        Ok(socket)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The socket file, to change its mode while it is served.
    pub fn file(&self) -> SocketFile {
        SocketFile {
            path: self.path.clone(),
            identity: self.identity,
        }
    }

    /// Serves until `shutdown` completes, then removes the socket file and
    /// gives open connections a moment to finish (event streams end).
    pub async fn serve(mut self, state: ApiState, shutdown: impl Future<Output = ()> + Send) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let stop = CancellationToken::new();
        let connections = TaskTracker::new();
        let app = routes::router(state, stop.clone());
        let own_uid = nix::unistd::geteuid().as_raw();
        let mut refusals = RateLimit::new(Duration::from_secs(10));
        let mut accept_errors = RateLimit::new(Duration::from_secs(10));
        let mut overflows = RateLimit::new(Duration::from_secs(10));
        let allowed = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let refused = Arc::new(Semaphore::new(MAX_REFUSED));
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        if let Some(suppressed) = accept_errors.allow() {
                            tracing::warn!(suppressed, "management socket accept failed: {e}");
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let (service, slots, keep_alive) = match stream.peer_cred() {
                Ok(cred) if cred.uid() == 0 || cred.uid() == own_uid => {
                    (app.clone(), &allowed, true)
                }
                Ok(cred) if self.group_may_connect(cred.gid()) => (app.clone(), &allowed, true),
                cred => {
                    let uid = cred
                        .map(|c| c.uid().to_string())
                        .unwrap_or_else(|_| "?".into());
                    if let Some(suppressed) = refusals.allow() {
                        tracing::warn!(
                            uid,
                            suppressed,
                            "management API refused a connection: not root, vippyd's uid or an allowed group"
                        );
                    }
                    (routes::refused(&uid, own_uid), &refused, false)
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                if let Some(suppressed) = overflows.allow() {
                    tracing::warn!(
                        suppressed,
                        "management API: {MAX_CONNECTIONS} connections open already; closing a new one"
                    );
                }
                continue; // dropping the stream closes it
            };
            connections.spawn(serve_connection(
                stream,
                service,
                keep_alive,
                slot,
                stop.clone(),
            ));
        }
        // Stop accepting and remove the file first, so a new daemon can
        // start while old connections drain.
        drop(listener);
        self.remove_file();
        stop.cancel();
        connections.close();
        if tokio::time::timeout(DRAIN, connections.wait())
            .await
            .is_err()
        {
            tracing::debug!("management API connections still open at shutdown; dropped");
        }
    }

    /// With a mode that gives the group read and write (`management_mode:
    /// "0660"`), a peer whose group is the socket's group is served too.
    /// Read at each connection, so a `chgrp` of the socket takes effect.
    fn group_may_connect(&self, gid: u32) -> bool {
        std::fs::symlink_metadata(&self.path).is_ok_and(|meta| {
            (meta.dev(), meta.ino()) == self.identity
                && meta.mode() & 0o060 == 0o060
                && meta.gid() == gid
        })
    }

    fn remove_file(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.identity
        {
            let _ = std::fs::remove_file(&self.path);
        }
        self.identity = (u64::MAX, u64::MAX);
    }
}

impl Drop for ApiSocket {
    fn drop(&mut self) {
        if self.identity != (u64::MAX, u64::MAX) {
            self.remove_file();
        }
    }
}

/// A served socket's file: its path and the (device, inode) it was created
/// with, the same identity [`ApiSocket`] checks before it removes the file
/// or lets a group in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl SocketFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the file's mode (a reload that changed `management_mode`), only
    /// while it is still the socket we created: one put in its place (by a
    /// newer daemon, by hand) is left alone and the change fails.
    pub fn set_mode(&self, mode: u32) -> Result<(), ApiError> {
        let meta = std::fs::symlink_metadata(&self.path).map_err(|source| ApiError::Io {
            context: "cannot stat the management socket",
            path: self.path.clone(),
            source,
        })?;
        if (meta.dev(), meta.ino()) != self.identity || !meta.file_type().is_socket() {
            return Err(ApiError::Io {
                context: "cannot set the mode of the management socket",
                path: self.path.clone(),
                source: io::Error::other("it is no longer the socket this vippyd created"),
            });
        }
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(mode & 0o777)).map_err(
            |source| ApiError::Io {
                context: "cannot set the mode of the management socket",
                path: self.path.clone(),
                source,
            },
        )
    }
}

/// Clears the way for a new socket at `path`, or says why not.
fn remove_stale(path: &Path) -> Result<(), ApiError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ApiError::Io {
                context: "cannot check",
                path: path.to_owned(),
                source,
            });
        }
    };
    let file_type = meta.file_type();
    if !file_type.is_socket() {
        let kind = if file_type.is_dir() {
            "a directory"
        } else if file_type.is_symlink() {
            "a symbolic link"
        } else if file_type.is_file() {
            "a regular file"
        } else {
            "a special file"
        };
        return Err(ApiError::NotASocket {
            path: path.to_owned(),
            kind,
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ApiError::AlreadyListening {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale management socket");
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(ApiError::Io {
                    context: "cannot remove the stale socket",
                    path: path.to_owned(),
                    source,
                }),
            }
        }
        Err(source) => Err(ApiError::Io {
            context: "cannot tell whether a daemon is listening on",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Serves one connection while holding `_slot`; a refused peer gets its
/// answer and the connection closes (`keep_alive` false).
pub(super) async fn serve_connection<S>(
    stream: S,
    app: Router,
    keep_alive: bool,
    _slot: OwnedSemaphorePermit,
    stop: CancellationToken,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(keep_alive)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!("management API connection ended: {e}");
            }
        }
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
    }
}

/// At most one log line per `every`; counts what it held back.
struct RateLimit {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimit {
    fn new(every: Duration) -> RateLimit {
        RateLimit {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(suppressed since the last line)` when a line may be logged.
    fn allow(&mut self) -> Option<u64> {
        let now = Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}
