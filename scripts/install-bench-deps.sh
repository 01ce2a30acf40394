#!/usr/bin/env bash
# Installs what `vippy-lab bench-keepalived` needs: Debian's keepalived. Only
# for the head-to-head benchmark; the tests never use it. Idempotent.
#
# keepalived is only ever run inside lab namespaces (docs/LAB.md). The package's
# service must not start in the host's namespace, so a policy-rc.d refusing
# every start is in place during the install (an existing one is kept as it
# is), and afterwards any keepalived in this script's own network namespace
# is killed.
set -euo pipefail
if command -v keepalived >/dev/null; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-bench-deps: need root to install keepalived" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
made_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# vippy install-bench-deps: no service starts\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=1
fi
cleanup() {
  if [[ -n $made_policy ]]; then rm -f "$policy"; fi
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends keepalived >/dev/null
# Belt and braces: no keepalived may run in the host's namespace.
here=$(readlink /proc/self/ns/net)
for pid in $(pgrep -x keepalived || true); do
  if [[ $(readlink "/proc/$pid/ns/net" 2>/dev/null) == "$here" ]]; then
    echo "install-bench-deps: killing keepalived $pid in the host namespace" >&2
    kill -KILL "$pid" || true
  fi
done
keepalived --version 2>&1 | head -1
