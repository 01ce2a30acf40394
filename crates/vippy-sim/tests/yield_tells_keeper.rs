//! A node paused while holding a group comes back to a peer that took the
//! group meanwhile. The peer hears it before it hears the peer, so the peer
//! gives way ("does not hear this node") and must tell it, as a handoff,
//! that clients follow the peer's announcements. The handoff used to be
//! dropped at the peer's next decision, because the keeper, not hearing the
//! peer yet, did not count as claiming the group: the keeper never
//! announced again and clients kept the peer's MAC. Found by the soak.

/// The seed that found it: 6 nodes, 3 groups, one paused for 5 s.
#[test]
fn a_peer_that_yields_to_a_resumed_holder_tells_it() {
    if let Err(failure) = vippy_sim::run(501_128, false) {
        panic!("{failure}");
    }
}
