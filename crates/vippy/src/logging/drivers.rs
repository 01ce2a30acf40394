//! The three places log lines go: the console (stderr), syslog's datagram
//! socket and journald's. Only the log writer's thread writes to them
//! ([`super::queue`]), so a driver may block without holding up vippyd.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vippy_core::config::{Facility, LogDriver, Logging};

use super::format::{Entry, console_line, journal_payload, local_timestamp, syslog_datagram};
use super::{ConsoleStyle, Sinks, lock};

pub(super) enum Sink {
    Console {
        out: Arc<Mutex<dyn Write + Send>>,
        style: ConsoleStyle,
    },
    Syslog {
        socket: Datagram,
        facility: Facility,
        fallback: Arc<Mutex<dyn Write + Send>>,
    },
    Journald {
        socket: Datagram,
        facility: Facility,
        fallback: Arc<Mutex<dyn Write + Send>>,
    },
}

/// Opens the driver's socket, or falls back to the console with a warning.
/// Connecting a datagram socket never waits, so this is safe on the loop.
pub(super) fn open_sink(logging: &Logging, sinks: &Sinks) -> (Sink, LogDriver, Option<String>) {
    let console = || Sink::Console {
        out: sinks.console.clone(),
        style: sinks.console_style,
    };
    let path = match logging.driver {
        LogDriver::Console => return (console(), LogDriver::Console, None),
        LogDriver::Syslog => &sinks.syslog_socket,
        LogDriver::Journald => &sinks.journal_socket,
    };
    match Datagram::connect(path) {
        Ok(socket) => {
            let fallback = sinks.console.clone();
            let sink = match logging.driver {
                LogDriver::Syslog => Sink::Syslog {
                    socket,
                    facility: logging.facility,
                    fallback,
                },
                _ => Sink::Journald {
                    socket,
                    facility: logging.facility,
                    fallback,
                },
            };
            (sink, logging.driver, None)
        }
        Err(e) => {
            let warning = format!(
                "logging driver {} is unavailable ({}: {e}); logging to the console (stderr) instead",
                logging.driver.name(),
                path.display()
            );
            (console(), LogDriver::Console, Some(warning))
        }
    }
}

/// A unix datagram socket connected to a log daemon, reconnected once when
/// a send fails (the daemon restarted and its socket is a new one).
pub(super) struct Datagram {
    path: PathBuf,
    socket: UnixDatagram,
}

impl Datagram {
    fn connect(path: &Path) -> io::Result<Datagram> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Datagram {
            path: path.to_path_buf(),
            socket,
        })
    }

    /// Blocks while the daemon's queue is full: that is the writer thread's
    /// business, and why nothing else calls this.
    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        if self.socket.send(payload).is_ok() {
            return Ok(());
        }
        *self = Datagram::connect(&self.path)?;
        self.socket.send(payload).map(drop)
    }
}

impl Sink {
    pub(super) fn write(&mut self, entry: &Entry) {
        match self {
            Sink::Console { out, style } => {
                let line = console_line(entry, *style);
                let _ = lock(out).write_all(line.as_bytes());
            }
            Sink::Syslog {
                socket,
                facility,
                fallback,
            } => {
                let datagram = syslog_datagram(entry, *facility, &local_timestamp(entry.time));
                if socket.send(datagram.as_bytes()).is_err() {
                    let line = console_line(entry, ConsoleStyle::Plain);
                    let _ = lock(fallback).write_all(line.as_bytes());
                }
            }
            Sink::Journald {
                socket,
                facility,
                fallback,
            } => {
                let payload = journal_payload(entry, *facility);
                if socket.send(&payload).is_err() {
                    let line = console_line(entry, ConsoleStyle::Plain);
                    let _ = lock(fallback).write_all(line.as_bytes());
                }
            }
        }
    }
}
