#!/usr/bin/env bash
# The whole test suite: unit, property, golden, simulation and (as root)
# the network-namespace integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --release
