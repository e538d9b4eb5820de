#!/usr/bin/env bash
# Installs the cargo-generate CLI that tests/template compares `daprgen new` against, as
# $DAPRGEN_CACHE/tools/bin/cargo-generate (default ~/.cache/daprgen/tools/bin/cargo-generate).
#
# The version is the one of the cargo-generate library daprgen links, read from Cargo.lock, so
# "byte-identical to `cargo generate`" is checked against the same release. Default features:
# the CLI a user gets from `cargo install cargo-generate`.
#
# Why not plain `cargo install --locked cargo-generate`: the lock file published with
# cargo-generate 0.26.0 pins cargo-util-schemas 0.14.3 (needs rustc 1.97) and kstring 2.0.5
# (rustc 1.96), newer than the stable Rust of these machines, and without --locked cargo picks
# the same versions. So this script builds the published source with a lock of our own,
# cargo-generate-<version>.lock beside it: the published one with those two crates at the
# versions daprgen's own Cargo.lock uses (0.14.1, 2.0.2), made with
#   cargo update -p cargo-util-schemas --precise 0.14.1 && cargo update -p kstring --precise 2.0.2
# in a copy of the crate's source. Everything else is the published lock, byte for byte.
#
# Idempotent: with the right version in place it costs a fraction of a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
cache_root=${DAPRGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daprgen}
root="$cache_root/tools"
binary="$root/bin/cargo-generate"

say() { printf '%s\n' "$*"; }
die() {
  printf '\nmake tools: error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}
elapsed_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'; }

# The version in the lock file: the [[package]] block named cargo-generate.
version=$(awk '
  $0 == "[[package]]" { name = "" }
  $1 == "name" && $3 == "\"cargo-generate\"" { name = "cargo-generate" }
  name == "cargo-generate" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
' "$repo_root/Cargo.lock")
[ -n "$version" ] || die "no cargo-generate in $repo_root/Cargo.lock." \
  "generator/Cargo.toml depends on the cargo-generate library; run 'cargo build -p daprgen' to lock it."

installed_version() {
  # `cargo-generate generate --version` prints `cargo-generate-generate X.Y.Z`.
  [ -x "$binary" ] || return 0
  "$binary" generate --version 2>/dev/null | awk '{ print $NF }'
}

if [ "$(installed_version)" = "$version" ]; then
  say "cargo-generate $version already in $root/bin"
  exit 0
fi

command -v cargo >/dev/null 2>&1 || die "cargo is not installed." "Install Rust (https://rustup.rs) and rerun."
lock="$here/cargo-generate-$version.lock"
[ -f "$lock" ] || die "no lock file for cargo-generate $version ($lock)." \
  "Cargo.lock now has cargo-generate $version. Make its lock: copy the crate's source, run 'cargo build' there;" \
  "if a dependency needs a newer rustc, 'cargo update -p NAME --precise VERSION' it, and save the Cargo.lock as $lock."

started=$(date +%s.%N)
work="$root/build"
rm -rf "$work"
mkdir -p "$work/locate/src"
log="$work/cargo.log"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# Explains a failed cargo command from its log: an unreachable registry, or the log's tail.
fail_from_log() {
  local what=$1 why
  mapfile -t why < <(sed -n '/^error/,$p' "$log" | grep -v '^ *$' | sed 's/^ *//' | head -n 8)
  if printf '%s\n' "${why[@]}" | grep -qiE 'download of .* failed|failed to (download|query|get|fetch|load)|could(n.t| not) (resolve|connect)|spurious network|timed out|\[(6|7|28|35|56)\]'; then
    die "$what failed: cannot reach crates.io (or the registry ~/.cargo/config.toml replaces it with)." "${why[@]}" \
      "Check the network access to the registry (proxy settings: https_proxy / CARGO_HTTP_PROXY), then rerun 'make tools'." \
      "Or set DAPRGEN_CARGO_GENERATE to a cargo-generate $version binary you already have."
  fi
  [ "${#why[@]}" -gt 0 ] || mapfile -t why < <(tail -n 15 "$log")
  die "$what failed:" "${why[@]}"
}

say "==> cargo-generate $version into $root/bin (a cold build takes minutes)"
say "    [1/2] fetching its source from crates.io"
# A throwaway package that depends on it: cargo downloads the source and says where it put it.
cat >"$work/locate/Cargo.toml" <<TOML
[package]
name = "locate-cargo-generate"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
cargo-generate = "=$version"

[workspace]
TOML
: >"$work/locate/src/lib.rs"
cargo metadata --format-version 1 --manifest-path "$work/locate/Cargo.toml" >"$work/metadata.json" 2>"$log" ||
  fail_from_log "downloading the source of cargo-generate $version"
manifest=$(grep -oE "\"manifest_path\":\"[^\"]*/cargo-generate-$version/Cargo.toml\"" "$work/metadata.json" | head -n 1 |
  cut -d'"' -f4)
[ -n "$manifest" ] || die "cargo metadata did not list cargo-generate $version's source."
cp -R "$(dirname "$manifest")" "$work/cargo-generate"
chmod -R u+w "$work/cargo-generate"
cp "$lock" "$work/cargo-generate/Cargo.lock"

say "    [2/2] cargo install --locked (one line per 50 crates compiled)"
# The build directory is ours and removed afterwards: never the project's or CI's CARGO_TARGET_DIR.
set +e
cargo install --locked --path "$work/cargo-generate" --root "$root" --target-dir "$work/target" 2>&1 |
  tee "$log" |
  awk '/^ *Compiling / { if (++n % 50 == 0) { printf "          %d crates compiled (%s)\n", n, $2; fflush() } next }
       /^ *(Downloaded [0-9]|Installing|Installed|Replacing|Finished)/ || /^(error|warning: spurious)/ {
         sub(/^ +/, ""); print "          " $0; fflush() }'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || fail_from_log "building cargo-generate $version (cargo install)"
[ "$(installed_version)" = "$version" ] ||
  die "$binary does not report version $version after installing it." "$("$binary" generate --version 2>&1 || true)"
say "cargo-generate $version installed in $root/bin in $(elapsed_since "$started")"
