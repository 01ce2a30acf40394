#!/usr/bin/env bash
# The README's first command: builds vippy and runs the namespace demo cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --workspace --bins
exec target/release/vippy-lab demo "$@"
