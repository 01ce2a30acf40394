//! Seeds the soak found failing, one per fault class, each fixed since.
//! Replay one with its trace: `target/release/vippy-sim --seed N`.

fn passes(seed: u64) {
    if let Err(failure) = vippy_sim::run(seed, false) {
        panic!("{failure}");
    }
}

/// A node paused while holding a group comes back to a peer that took the
/// group meanwhile. The peer hears it before it hears the peer, so the peer
/// gives way ("does not hear this node") and must tell it, as a handoff,
/// that clients follow the peer's announcements. The handoff used to be
/// dropped at the peer's next decision, because the keeper, not hearing the
/// peer yet, did not count as claiming the group: the keeper never
/// announced again and clients kept the peer's MAC.
#[test]
fn a_peer_that_yields_to_a_resumed_holder_tells_it() {
    passes(501_128);
}

/// A node restarted with its clock behind raised its incarnation and, still
/// on an older config, read nothing of what its peers held (they do not
/// echo the new incarnation yet, and run a config it lacks): it took every
/// group as unowned and announced them, then gave them back. Holdings it
/// cannot read now keep it from taking anything, as for a verified peer.
#[test]
fn unreadable_holdings_of_a_peer_that_does_not_hear_us_block_taking() {
    passes(4_731);
}

/// A keeper remembered the node that handed it a group as no rival. That
/// node crashed, restarted, took the group while cut off and announced it;
/// back in touch it gave way with a handoff, which the keeper took for the
/// old one and did not announce again. A restart now forgets the rival.
#[test]
fn a_rival_that_restarted_is_a_new_rival() {
    passes(4_551);
}

/// A node restarted behind its clock while another node did the same to
/// the very same incarnation. Its peers echo the one they hold for it, but
/// it read the other node's echo (equal number) as its own and never raised
/// its incarnation: every datagram of it was rejected as a replay, and so
/// was its request for the newer config, which it never got. Only an echo
/// at its own index now counts as its own.
#[test]
fn an_echo_of_a_peer_with_our_incarnation_is_not_ours() {
    passes(92_477);
}

/// A keeper took a group as unowned, unseen by the holder, which then
/// released it to the keeper as a planned move. Seeing the keeper hold it,
/// the holder took the move for taken and forgot it, so the keeper was never
/// told and clients kept the holder's MAC from its later announcement. The
/// holder now goes on telling the keeper, which announces again.
#[test]
fn a_planned_move_taken_by_a_concurrent_holder_is_told() {
    passes(40_925);
    passes(51_240);
}

/// Two nodes that held a group while its holder was paused both gave way,
/// each to the other; the one told by the last to announce stopped claiming
/// it, and the tell was dropped with it. The paused holder, resumed, kept
/// the group without announcing again. A tell now passes on to whoever
/// claims the group next.
#[test]
fn a_tell_passes_on_to_the_next_claimer() {
    passes(100_956);
}

/// A staggered boot with `mature` 0: a booting peer turned active, which
/// left "eligible or booting" the same, so the wait before claiming an
/// unowned group was not renewed. Placement gave a group to one node, which
/// claimed it; 2 ms later, before its heartbeat arrived, another node's view
/// moved the group to itself and it claimed it too. A peer going from
/// booting to eligible now renews the wait.
#[test]
fn a_booting_peer_turning_eligible_renews_the_wait_for_unowned_groups() {
    passes(147_457);
}

/// A keeper that heard nothing (a one-way fault) was paused before it
/// could judge its peer stale, and resumed after the heal. Meanwhile the
/// peer, not hearing it earlier, had taken three of its groups, announced
/// them, and given them back with a tell that expired before the keeper
/// could read it. Reading the peer again, the keeper saw no lapse (its
/// stale timer never fired) and did not announce again, so clients kept
/// the peer's MAC. A peer not heard for `stale` now counts as back even
/// when the timer was not run.
#[test]
fn a_lapse_hidden_by_a_pause_still_counts_as_one() {
    passes(30_968);
}
