//! The chat datagrams one pass of the loop reads together: the one that
//! woke it and whatever else is already queued, up to a bound, so that the
//! core decides once for all of them (see `Node::handle_datagrams_at`).

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Instant;

use crate::net::Received;

/// The datagrams of one batch, copied one after another into one buffer.
#[derive(Default)]
pub(super) struct Inbox {
    bytes: Vec<u8>,
    datagrams: Vec<(Range<usize>, SocketAddr, Instant)>,
}

impl Inbox {
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.datagrams.clear();
    }

    pub(super) fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// Keeps `got`, read into `buf`.
    pub(super) fn push(&mut self, got: &Received, buf: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&buf[..got.len]);
        self.datagrams
            .push((start..self.bytes.len(), got.from, got.arrived));
    }

    /// Each datagram as the core takes it: when it arrived, its sender, its bytes.
    pub(super) fn datagrams(&self) -> impl Iterator<Item = (Instant, SocketAddr, &[u8])> {
        self.datagrams
            .iter()
            .map(|(range, from, arrived)| (*arrived, *from, &self.bytes[range.clone()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_come_back_whole_and_in_order() {
        let mut inbox = Inbox::default();
        let at = Instant::now();
        let from: SocketAddr = "198.51.100.1:5107".parse().unwrap();
        for payload in [&b"first"[..], b"", b"third one"] {
            let mut buf = payload.to_vec();
            buf.extend_from_slice(b"garbage past the length");
            let got = Received {
                len: payload.len(),
                from,
                arrived: at,
            };
            inbox.push(&got, &buf);
        }
        let read: Vec<&[u8]> = inbox.datagrams().map(|(_, _, b)| b).collect();
        assert_eq!(read, [&b"first"[..], b"", b"third one"]);
        inbox.clear();
        assert_eq!(inbox.len(), 0);
        assert_eq!(inbox.datagrams().count(), 0);
    }
}
