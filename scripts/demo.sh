#!/usr/bin/env bash
# The README's first command: builds vippy and runs the namespace demo cluster
# (3 nodes, 6 VIPs, one node SIGKILLed, the failover timed, then teardown).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: must run as root (it creates network namespaces); try: sudo bash scripts/demo.sh" >&2
  exit 1
fi
bash scripts/install-deps.sh
cargo build --release --workspace --bins
exec "${CARGO_TARGET_DIR:-target}/release/vippy-lab" demo "$@"
