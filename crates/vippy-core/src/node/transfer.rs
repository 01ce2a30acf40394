//! Config transfer (docs/PROTOCOL.md): a node that sees a peer on a config it does
//! not know fetches it in authenticated chunks, checks the digest, and
//! adopts it when its version is higher — or keeps it to read that peer's
//! holdings when it is not. One fetch at a time, newest version first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Destination, Event, Node};
use crate::config::{Digest, load_cluster};
use crate::wire::{Body, ConfigChunk, ConfigRequest, MAX_CHUNK_DATA};

/// Chunks asked for at once.
const WINDOW: u16 = 16;
/// 4096 groups of two IPv6 addresses fit in well under this.
const MAX_CHUNKS: u32 = 4096;
/// Requests without progress before giving up on a peer for a while.
const MAX_ATTEMPTS: u32 = 8;
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Conflicting (peer, digest) pairs reported, at most.
const MAX_CONFLICT_REPORTS: usize = 256;

#[derive(Debug)]
pub(super) struct Fetch {
    peer: String,
    addr: SocketAddr,
    version: u64,
    digest: Digest,
    total: Option<u32>,
    chunks: BTreeMap<u32, Vec<u8>>,
    pub retry_at: Instant,
    attempts: u32,
}

impl Fetch {
    fn first_missing(&self) -> u32 {
        (0..).find(|i| !self.chunks.contains_key(i)).unwrap_or(0)
    }
}

impl Node {
    /// After a peer's heartbeat changed: note conflicts, start fetches.
    pub(super) fn notice_config(&mut self, now: Instant, peer: &str) {
        // Only a verified peer's config is acted on (a replay must not
        // make us adopt or fetch anything).
        // Only a member's: a stranger with the secret may be another
        // cluster sharing the channel.
        if self.cluster.node_index(peer).is_none() {
            return;
        }
        let Some(state) = self
            .peers
            .get(peer)
            .filter(|p| p.verified)
            .and_then(|p| p.state.clone())
        else {
            return;
        };
        let mine = self.cluster.digest();
        if state.digest == mine {
            return;
        }
        if state.version == self.cluster.version
            && self.conflicts_reported.len() < MAX_CONFLICT_REPORTS
            && self
                .conflicts_reported
                .insert((peer.to_string(), state.digest))
        {
            self.counters.rejected[super::Rejection::ConfigConflict as usize] += 1;
            self.events.push_back(Event::ConfigConflict {
                peer: peer.to_string(),
                version: state.version,
                standing_down: state.digest > mine,
            });
        }
        if self.known.contains_key(&state.digest) {
            // Known: adopt at once if newer (e.g. a peer is back on a config
            // we fetched before), else it is only for reading holdings.
            if state.version > self.cluster.version {
                let cluster = self.known[&state.digest].clone();
                self.adopt(cluster, peer.to_string(), now);
            }
            return;
        }
        self.start_fetch(now);
    }

    /// Fetches the newest config a present peer runs that is not known here,
    /// from any present peer that runs it.
    pub(super) fn start_fetch(&mut self, now: Instant) {
        let wanted = self
            .peers
            .iter()
            .filter(|(name, p)| p.present() && self.cluster.node_index(name).is_some())
            .filter_map(|(name, p)| {
                p.state
                    .as_ref()
                    .map(|s| (s.version, s.digest, name.clone(), p.addr))
            })
            .filter(|(_, digest, _, _)| !self.known.contains_key(digest))
            .filter(|(_, digest, _, _)| {
                self.fetch_backoff
                    .get(digest)
                    .is_none_or(|until| *until <= now)
            })
            .max_by_key(|(version, digest, _, _)| (*version, *digest));
        let Some((version, digest, peer, addr)) = wanted else {
            return;
        };
        if self
            .fetch
            .as_ref()
            .is_some_and(|f| f.digest == digest || f.version >= version)
        {
            return;
        }
        self.fetch = Some(Fetch {
            peer,
            addr,
            version,
            digest,
            total: None,
            chunks: BTreeMap::new(),
            retry_at: now,
            attempts: 0,
        });
        self.request_chunks(now);
    }

    fn request_chunks(&mut self, now: Instant) {
        let retry = self
            .config
            .interval
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let Some(fetch) = self.fetch.as_mut() else {
            return;
        };
        fetch.attempts += 1;
        fetch.retry_at = now + retry;
        let first = fetch.first_missing();
        let count = match fetch.total {
            Some(total) => WINDOW.min(u16::try_from(total.saturating_sub(first)).unwrap_or(WINDOW)),
            None => WINDOW,
        };
        let Some(responder_incarnation) = self.peers.get(&fetch.peer).map(|p| p.incarnation) else {
            return; // forgotten: fetch_timeout gives up on it
        };
        let request = Body::ConfigRequest(ConfigRequest {
            responder_incarnation,
            version: fetch.version,
            digest: fetch.digest,
            first_chunk: first,
            count: count.max(1),
        });
        let to = Destination::Peer(fetch.addr);
        self.send(request, to);
    }

    pub(super) fn fetch_timeout(&mut self, now: Instant) {
        let Some(fetch) = &self.fetch else {
            return;
        };
        if now < fetch.retry_at {
            return;
        }
        let peer_gone = !self.peers.get(&fetch.peer).is_some_and(|p| p.present());
        if fetch.attempts >= MAX_ATTEMPTS || peer_gone {
            let fetch = self.fetch.take().expect("checked");
            // A peer that went away is retried as soon as it is heard again.
            if !peer_gone {
                self.fetch_backoff
                    .insert(fetch.digest, now + self.backoff());
            }
            self.events.push_back(Event::ConfigFetchFailed {
                peer: fetch.peer,
                detail: format!(
                    "no complete config version {} after {} requests ({} of {} chunks)",
                    fetch.version,
                    fetch.attempts,
                    fetch.chunks.len(),
                    fetch
                        .total
                        .map(|t| t.to_string())
                        .unwrap_or_else(|| "?".into())
                ),
            });
            // Another present peer may have the same config.
            self.start_fetch(now);
            return;
        }
        self.request_chunks(now);
    }

    pub(super) fn serve_config(&mut self, from: SocketAddr, sender: String, req: ConfigRequest) {
        // Sequence numbers stop replays while this node runs; the
        // incarnation stops those recorded before it (re)started, which
        // would otherwise aim chunks at the recording's source address.
        if req.responder_incarnation != self.incarnation {
            self.reject(
                from,
                Some(sender),
                super::Rejection::Replay,
                format!(
                    "config request for incarnation {}, this node is {}",
                    req.responder_incarnation, self.incarnation
                ),
            );
            return;
        }
        let Some(cluster) = self
            .known
            .get(&req.digest)
            .filter(|c| c.version == req.version)
        else {
            return; // not one we have; the requester will ask someone else
        };
        let text = cluster.canonical_text().into_bytes();
        let chunks: Vec<&[u8]> = text.chunks(MAX_CHUNK_DATA).collect();
        let total = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        let first = req.first_chunk as usize;
        let end = first
            .saturating_add(usize::from(req.count.min(WINDOW)))
            .min(chunks.len());
        let (version, digest) = (req.version, req.digest);
        let bodies: Vec<Body> = (first..end)
            .map(|i| {
                Body::ConfigChunk(ConfigChunk {
                    version,
                    digest,
                    index: i as u32,
                    total,
                    data: chunks[i].to_vec(),
                })
            })
            .collect();
        for body in bodies {
            self.send(body, Destination::Peer(from));
        }
    }

    pub(super) fn receive_chunk(&mut self, now: Instant, sender: &str, chunk: ConfigChunk) {
        let Some(fetch) = self.fetch.as_mut() else {
            return;
        };
        // Only the peer asked answers; another's chunk is not ours to mix in.
        if sender != fetch.peer || chunk.digest != fetch.digest || chunk.version != fetch.version {
            return;
        }
        let sane = chunk.total > 0
            && chunk.total <= MAX_CHUNKS
            && chunk.index < chunk.total
            && fetch.total.is_none_or(|t| t == chunk.total);
        if !sane {
            return;
        }
        fetch.total = Some(chunk.total);
        let progressed = fetch.chunks.insert(chunk.index, chunk.data).is_none();
        if progressed {
            fetch.attempts = 0;
        }
        if fetch.chunks.len() as u32 == chunk.total {
            let fetch = self.fetch.take().expect("present");
            self.finish_fetch(now, fetch);
        } else if progressed && fetch.first_missing() % u32::from(WINDOW) == 0 {
            // This window is complete: ask for the next at once.
            let _ = sender;
            self.request_chunks(now);
        }
    }

    fn finish_fetch(&mut self, now: Instant, fetch: Fetch) {
        let bytes: Vec<u8> = fetch.chunks.into_values().flatten().collect();
        let source = format!("<config version {} from {}>", fetch.version, fetch.peer);
        let parsed = String::from_utf8(bytes)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(|text| load_cluster(&text, &source).map_err(|e| e.to_string()));
        let cluster = match parsed {
            Ok(c) if c.digest() == fetch.digest && c.version == fetch.version => Arc::new(c),
            Ok(_) => {
                return self.fetch_failed(
                    now,
                    fetch.peer,
                    fetch.digest,
                    "digest does not match".into(),
                );
            }
            Err(e) => return self.fetch_failed(now, fetch.peer, fetch.digest, e),
        };
        self.known.insert(cluster.digest(), cluster.clone());
        self.prune_known();
        if cluster.version > self.cluster.version {
            self.adopt(cluster, fetch.peer, now);
        } else {
            self.needs_decide = true; // its holdings are readable now
            if !self.held.is_empty() {
                // It may have announced ours while they could not be read.
                self.reannounce_all = Some(format!("{}'s config is readable now", fetch.peer));
            }
        }
        // Another peer may run a config we do not know yet.
        self.start_fetch(now);
    }

    /// A member's newer config is adopted only if it lists this node; one
    /// that does not makes this node stand down while that member is
    /// present (`excluded_by_newer`), and is never kept as this node's.
    fn adopt(&mut self, cluster: Arc<crate::config::Cluster>, from: String, now: Instant) {
        if cluster.node_index(&self.name).is_some() {
            self.install_cluster(cluster, Some(from), now);
            return;
        }
        if self.conflicts_reported.len() < MAX_CONFLICT_REPORTS
            && self
                .conflicts_reported
                .insert((from.clone(), cluster.digest()))
        {
            self.events.push_back(Event::ConfigKept {
                detail: format!(
                    "{from} runs config version {}, which does not list this node; not adopted, and this node serves nothing while {from} runs it",
                    cluster.version
                ),
            });
        }
        self.needs_decide = true;
    }

    /// How long a config that failed to arrive or to load is left alone.
    fn backoff(&self) -> Duration {
        self.config.stale.max(MIN_BACKOFF)
    }

    fn fetch_failed(&mut self, now: Instant, peer: String, digest: Digest, detail: String) {
        self.fetch_backoff.retain(|_, until| *until > now);
        self.fetch_backoff.insert(digest, now + self.backoff());
        self.events
            .push_back(Event::ConfigFetchFailed { peer, detail });
    }
}
