//! Shared by the `net_*` tests: entering a lab host from async code.

use std::future::Future;
use std::time::Duration;

use vippy::net::{Link, Netlink};
use vippy_lab::{LabHost, in_netns};

/// Runs `f` inside the host's namespace with the current tokio runtime
/// entered, so sockets made there register with it and stay in that
/// namespace.
pub fn inside<T: Send>(host: &LabHost, f: impl FnOnce() -> T + Send) -> T {
    let runtime = tokio::runtime::Handle::current();
    in_netns(&host.netns, move || {
        let _entered = runtime.enter();
        f()
    })
    .expect("entering the host's namespace")
}

/// A netlink connection inside the host.
pub fn netlink(host: &LabHost) -> Netlink {
    inside(host, Netlink::new).expect("netlink socket")
}

/// The host's lab interface as netlink sees it.
pub async fn lab_link(netlink: &Netlink, host: &LabHost) -> Link {
    netlink
        .links()
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.name == host.ifname)
        .expect("lab interface")
}

/// Polls `check` every 20 ms until it is true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
