//! What a health check's result means to the core (docs/OPERATIONS.md,
//! "Health checks"): a check without `groups` concerns the whole node
//! (`LocalEvent::Health`); a scoped one makes this node unable to serve its
//! groups only (`LocalEvent::CannotServe`, source and reason `check:NAME`).
//!
//! A check's `groups` are indices in the file it came from; the core wants
//! indices in the cluster config in force, which an adopted config may
//! order differently, so groups travel by identity key in between.

use std::collections::BTreeMap;

use vippy_core::config::{Check, Cluster};
use vippy_core::node::LocalEvent;

/// The last state each check reported (a check counts as failing until it
/// first passes), to restate it when a reload changes its scope.
#[derive(Debug, Default)]
pub struct CheckScopes {
    passing: BTreeMap<String, bool>,
}

/// `check:NAME`: the core source and the reason a scoped check gives.
pub fn source(name: &str) -> String {
    format!("check:{name}")
}

/// Identity keys of a check's groups in `file`; empty for a whole-node check.
fn keys(check: &Check, file: &Cluster) -> Vec<u64> {
    check
        .groups
        .iter()
        .filter_map(|&g| file.groups.get(g).map(|group| group.key))
        .collect()
}

/// The event saying that `check` passes (`ok`) or fails.
fn said(check: &Check, ok: bool, file: &Cluster, in_force: &Cluster) -> LocalEvent {
    if check.groups.is_empty() {
        return LocalEvent::Health {
            check: check.name.clone(),
            ok,
        };
    }
    let groups = if ok {
        BTreeMap::new()
    } else {
        keys(check, file)
            .into_iter()
            .filter_map(|key| in_force.group_by_key(key))
            .map(|g| (g, source(&check.name)))
            .collect()
    };
    LocalEvent::CannotServe {
        source: source(&check.name),
        groups,
    }
}

/// The event that takes back whatever `check` said (it is gone, or now
/// concerns other groups).
fn unsaid(check: &Check) -> LocalEvent {
    if check.groups.is_empty() {
        LocalEvent::Health {
            check: check.name.clone(),
            ok: true,
        }
    } else {
        LocalEvent::CannotServe {
            source: source(&check.name),
            groups: BTreeMap::new(),
        }
    }
}

impl CheckScopes {
    /// At start: every check fails until it passes, so no group is taken
    /// before the service is known good.
    pub fn start(
        &mut self,
        checks: &[Check],
        file: &Cluster,
        in_force: &Cluster,
    ) -> Vec<LocalEvent> {
        checks
            .iter()
            .map(|check| {
                self.passing.insert(check.name.clone(), false);
                said(check, false, file, in_force)
            })
            .collect()
    }

    /// A check's new state.
    pub fn result(
        &mut self,
        check: &Check,
        ok: bool,
        file: &Cluster,
        in_force: &Cluster,
    ) -> LocalEvent {
        self.passing.insert(check.name.clone(), ok);
        said(check, ok, file, in_force)
    }

    /// A reload from `old` to `new` checks: a removed check's word is
    /// taken back; a check whose scope changed says its last state over
    /// the new scope; a new check fails until it passes. An unchanged
    /// scope needs nothing (the check keeps running and its state).
    pub fn reload(
        &mut self,
        old: (&[Check], &Cluster),
        new: (&[Check], &Cluster),
        in_force: &Cluster,
    ) -> Vec<LocalEvent> {
        let mut events = Vec::new();
        for was in old.0 {
            let now = new.0.iter().find(|c| c.name == was.name);
            match now {
                None => {
                    self.passing.remove(&was.name);
                    events.push(unsaid(was));
                }
                Some(now)
                    if now.groups.is_empty() != was.groups.is_empty()
                        || keys(now, new.1) != keys(was, old.1) =>
                {
                    let ok = self.passing.get(&was.name).copied().unwrap_or(false);
                    events.push(unsaid(was));
                    events.push(said(now, ok, new.1, in_force));
                }
                Some(_) => {}
            }
        }
        for check in new.0 {
            if !old.0.iter().any(|c| c.name == check.name) {
                self.passing.insert(check.name.clone(), false);
                events.push(said(check, false, new.1, in_force));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use vippy_core::config::{Check, Cluster, Command, Group};
    use vippy_core::node::LocalEvent;

    use super::CheckScopes;

    fn cluster(ips: &[&str]) -> Cluster {
        let groups = ips
            .iter()
            .map(|ip| Group::new(None, vec![ip.parse().unwrap()]))
            .collect();
        Cluster::new(1, groups, vec!["a".into(), "b".into()])
    }

    fn check(name: &str, groups: &[usize]) -> Check {
        Check {
            name: name.into(),
            command: Command::Argv(vec!["true".into()]),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            rise: 1,
            fall: 1,
            groups: groups.to_vec(),
        }
    }

    fn health(name: &str, ok: bool) -> LocalEvent {
        LocalEvent::Health {
            check: name.into(),
            ok,
        }
    }

    fn cannot(name: &str, groups: &[usize]) -> LocalEvent {
        let reason = format!("check:{name}");
        LocalEvent::CannotServe {
            source: reason.clone(),
            groups: groups
                .iter()
                .map(|&g| (g, reason.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    /// Debug text: `LocalEvent` has no `PartialEq`.
    fn text(events: &[LocalEvent]) -> Vec<String> {
        events.iter().map(|e| format!("{e:?}")).collect()
    }

    #[test]
    fn scoped_checks_fail_their_groups_and_unscoped_ones_the_node() {
        let file = cluster(&["198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"]);
        let checks = [check("web", &[]), check("db", &[0, 2])];
        let mut scopes = CheckScopes::default();
        let start = scopes.start(&checks, &file, &file);
        assert_eq!(
            text(&start),
            text(&[health("web", false), cannot("db", &[0, 2])])
        );
        let passed = scopes.result(&checks[1], true, &file, &file);
        assert_eq!(text(&[passed]), text(&[cannot("db", &[])]));
        let failed = scopes.result(&checks[1], false, &file, &file);
        assert_eq!(text(&[failed]), text(&[cannot("db", &[0, 2])]));
    }

    #[test]
    fn groups_are_told_by_their_index_in_the_config_in_force() {
        let file = cluster(&["198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"]);
        // Adopted from a peer: group 2 of the file is first, group 0 is gone.
        let in_force = cluster(&["198.51.100.3/24", "198.51.100.2/24"]);
        let mut scopes = CheckScopes::default();
        let events = scopes.start(&[check("db", &[0, 2])], &file, &in_force);
        assert_eq!(text(&events), text(&[cannot("db", &[0])]));
    }

    #[test]
    fn a_reload_takes_back_removed_checks_and_restates_a_changed_scope() {
        let file = cluster(&["198.51.100.1/24", "198.51.100.2/24", "198.51.100.3/24"]);
        let old = [
            check("web", &[]),
            check("db", &[0]),
            check("gone", &[1]),
            check("same", &[2]),
        ];
        let mut scopes = CheckScopes::default();
        scopes.start(&old, &file, &file);
        scopes.result(&old[0], true, &file, &file);
        scopes.result(&old[1], true, &file, &file);
        let new = [
            check("web", &[1]),
            check("db", &[0, 1]),
            check("same", &[2]),
            check("fresh", &[2]),
        ];
        let events = scopes.reload((&old, &file), (&new, &file), &file);
        assert_eq!(
            text(&events),
            text(&[
                // web passed: whole node cleared, group 1 not excluded.
                health("web", true),
                cannot("web", &[]),
                // db passed: nothing excluded under its new scope either.
                cannot("db", &[]),
                cannot("db", &[]),
                cannot("gone", &[]),
                cannot("fresh", &[2]),
            ])
        );
    }

    #[test]
    fn a_scope_that_names_the_same_groups_after_a_reorder_is_unchanged() {
        let old_file = cluster(&["198.51.100.1/24", "198.51.100.2/24"]);
        let new_file = cluster(&["198.51.100.2/24", "198.51.100.1/24"]);
        let mut scopes = CheckScopes::default();
        scopes.start(&[check("db", &[0])], &old_file, &old_file);
        let events = scopes.reload(
            (&[check("db", &[0])], &old_file),
            (&[check("db", &[1])], &new_file),
            &new_file,
        );
        assert!(events.is_empty(), "{events:?}");
    }
}
