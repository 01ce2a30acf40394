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
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
