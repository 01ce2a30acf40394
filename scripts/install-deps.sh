#!/usr/bin/env bash
# Installs the Debian packages vippy's tests and lab need. Idempotent; a
# package already present is not fetched again.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v nft >/dev/null || need+=(nftables)
command -v curl >/dev/null || need+=(curl)
command -v arping >/dev/null || need+=(arping)
command -v ping >/dev/null || need+=(iputils-ping)
command -v faketime >/dev/null || need+=(faketime)
command -v prometheus >/dev/null || need+=(prometheus)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # No package may start its service here (prometheus would scrape from the
  # host's own namespace): the tests start what they need inside their labs.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
