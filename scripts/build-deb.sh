#!/usr/bin/env bash
# Builds the Debian package of vippy: release binaries, man pages and shell
# completions (vippy-gen), then cargo-deb with the metadata in
# crates/vippy/Cargo.toml. Prints the path of the .deb.
#
#   scripts/build-deb.sh [--no-install]   (--no-install: fail if cargo-deb is missing)
#
# Honours CARGO_TARGET_DIR. Installs nothing on this machine but cargo-deb.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  if [[ ${1:-} == --no-install ]]; then
    echo "build-deb: cargo-deb is missing (cargo install cargo-deb --locked)" >&2
    exit 1
  fi
  echo "build-deb: installing cargo-deb" >&2
  # A target dir of its own, so as not to mix with the project's.
  env -u CARGO_TARGET_DIR cargo install cargo-deb --locked
fi

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --locked -p vippy --bins

# Reproducible man page dates: the last commit's time, when in git.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && git rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
  export SOURCE_DATE_EPOCH
fi

# cargo-deb maps asset paths under target/release/ to the real target dir.
gen="$target_dir/release/vippy-gen-out"
rm -rf "$gen"
"$target_dir/release/vippy-gen" "$gen" >/dev/null
# Debian policy: compressed man pages (cargo-deb compresses only files it
# did not see built), without a timestamp (-n) for reproducible packages.
gzip -9n "$gen"/man/*

# --strip: the release profile keeps line tables for profiling; the
# package does not need them.
cargo deb -p vippy --no-build --strip --output "$target_dir/debian/"
