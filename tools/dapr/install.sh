#!/usr/bin/env bash
# Installs the pinned Dapr runtime into $DAPR_HOME/bin (default ~/.dapr/bin), where `dapr run`
# and the test harness look for it:
#   daprd      github.com/dapr/dapr/cmd/daprd, built with -tags allcomponents (lock.redis needs it)
#   placement  github.com/dapr/dapr/cmd/placement
#   scheduler  github.com/dapr/dapr/cmd/scheduler
#   dapr       github.com/dapr/cli, when the module proxy serves it
# plus Debian's redis-server when it is missing, and $DAPR_HOME/config.yaml.
#
# Everything is built from Go modules: there is no release download on these machines.
# dapr's go.mod carries `replace` directives, so `go install module@version` refuses it; we build
# inside a scratch module that requires dapr and repeats those replaces, read from dapr's own go.mod.
#
# Idempotent and cached: a second run with the binaries in place costs well under a second, and the
# scratch module and Go's build cache keep a rebuild after `rm -rf ~/.dapr` to a minute or two.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

DAPR_HOME=${DAPR_HOME:-$HOME/.dapr}
bin_dir="$DAPR_HOME/bin"
cache_root=${DAPRGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daprgen}
build_dir="$cache_root/dapr-build/v$DAPR_RUNTIME_VERSION"
# A toolchain download is a download site: fail clearly on an old Go instead.
export GOTOOLCHAIN=local

step_no=0
step_total=6
started_all=$(date +%s.%N)

say() { printf '%s\n' "$*"; }
die() {
  printf '\nmake dapr: error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}
elapsed_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'; }

# step TITLE FUNCTION: prints the step, runs it, prints its duration.
step() {
  step_no=$((step_no + 1))
  local title=$1 t0
  shift
  t0=$(date +%s.%N)
  say "==> [$step_no/$step_total] $title"
  "$@"
  say "    done in $(elapsed_since "$t0")"
}

check_prerequisites() {
  command -v go >/dev/null 2>&1 || die "Go is not installed." \
    "The Dapr runtime is built from its Go modules; install Go 1.26 or newer and rerun 'make dapr'."
  say "    $(go version)"
  if ! go mod download -json "github.com/dapr/dapr@v$DAPR_RUNTIME_VERSION" >"$cache_root/dapr-mod.json" 2>&1; then
    die "cannot download github.com/dapr/dapr@v$DAPR_RUNTIME_VERSION from the Go module proxy ($(go env GOPROXY))." \
      "$(grep -m1 -o '"Error": "[^"]*' "$cache_root/dapr-mod.json" | cut -c11- || true)" \
      "Check the network access to the Go module proxy, or set GOPROXY to one you can reach."
  fi
  local dapr_mod go_needed go_have
  dapr_mod=$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' "$cache_root/dapr-mod.json")
  go_needed=$(awk '$1 == "go" { print $2; exit }' "$dapr_mod")
  go_have=$(go env GOVERSION | sed 's/^go//')
  if [ "$(printf '%s\n%s\n' "$go_needed" "$go_have" | sort -V | head -n1)" != "$go_needed" ]; then
    die "Go $go_have is too old: dapr v$DAPR_RUNTIME_VERSION needs Go $go_needed or newer." \
      "Install a newer Go and rerun 'make dapr'."
  fi
}

install_redis() {
  if command -v redis-server >/dev/null 2>&1; then
    say "    $(redis-server --version | cut -d' ' -f1-3) already installed"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "redis-server is missing and this is not a Debian system." \
    "Install redis-server (7.x) with your package manager and rerun 'make dapr'."
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >/dev/null || die "apt-get update failed: Debian's package archive is not reachable." \
    "Install redis-server yourself and rerun 'make dapr'."
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null ||
    die "apt-get install redis-server failed." "Install redis-server yourself and rerun 'make dapr'."
  say "    installed $(redis-server --version | cut -d' ' -f1-3)"
}

# Prints the dapr module version a runtime binary was built from (Go records it in the binary;
# placement and scheduler have no --version flag), or nothing.
built_version() {
  [ -x "$1" ] || return 0
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/dapr/dapr" { sub(/^v/, "", $3); print $3 }'
}

runtime_is_current() {
  local name
  for name in daprd placement scheduler; do
    [ "$(built_version "$bin_dir/$name")" = "$DAPR_RUNTIME_VERSION" ] || return 1
  done
  # daprd also reports the version it was stamped with; `dapr --version` shows that one.
  [ "$("$bin_dir/daprd" --version 2>/dev/null)" = "$DAPR_RUNTIME_VERSION" ]
}

prepare_scratch_module() {
  mkdir -p "$build_dir"
  cd "$build_dir"
  if [ -f go.mod ] && [ -f go.sum ] && grep -q "github.com/dapr/dapr v$DAPR_RUNTIME_VERSION" go.mod; then
    say "    reusing $build_dir"
    return
  fi
  rm -f go.mod go.sum
  go mod init daprgen.local/dapr-build >/dev/null 2>&1
  go mod edit -require="github.com/dapr/dapr@v$DAPR_RUNTIME_VERSION"
  local dapr_mod
  dapr_mod=$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' "$cache_root/dapr-mod.json")
  # Repeat dapr's replace directives: `old [version] => new [version]`, in blocks or single lines.
  local replaces
  replaces=$(awk '
    /^replace \($/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    /^replace / { sub(/^replace /, ""); print; next }
    inblock && /=>/ { print }
  ' "$dapr_mod" | sed 's://.*$::' | awk -F'=>' 'NF == 2 {
      split($1, o, " "); split($2, n, " ");
      old = o[1] (o[2] != "" ? "@" o[2] : "");
      new = n[1] (n[2] != "" ? "@" n[2] : "");
      printf "-replace=%s=%s\n", old, new
    }')
  # shellcheck disable=SC2086 # one argument per line, none contains spaces
  [ -z "$replaces" ] || go mod edit $replaces
  say "    $(printf '%s\n' "$replaces" | grep -c . || true) replace directive(s) copied from dapr's go.mod"
  go get -tool "github.com/dapr/dapr/cmd/daprd@v$DAPR_RUNTIME_VERSION" \
    "github.com/dapr/dapr/cmd/placement@v$DAPR_RUNTIME_VERSION" \
    "github.com/dapr/dapr/cmd/scheduler@v$DAPR_RUNTIME_VERSION" >"$build_dir/get.log" 2>&1 ||
    fail_module_download "$build_dir/get.log"
  # tidy resolves every build tag, so the allcomponents graph is in go.sum before we build.
  go mod tidy >"$build_dir/tidy.log" 2>&1 || fail_module_download "$build_dir/tidy.log"
}

fail_module_download() {
  local missing
  missing=$(grep -oE '[a-zA-Z0-9./_-]+@v[^: ]+: reading [^ ]+: [0-9]{3}[^"]*' "$1" | sort -u | head -n 5 || true)
  rm -f "$build_dir/go.mod" "$build_dir/go.sum"
  die "resolving the modules of dapr v$DAPR_RUNTIME_VERSION failed (log: $1)." \
    ${missing:+"not served by the module proxy: $missing"} \
    "If one module version is missing, pin a Dapr patch release whose graph is served in tools/dapr/versions.env."
}

build_runtime() {
  if runtime_is_current; then
    say "    daprd, placement and scheduler $DAPR_RUNTIME_VERSION already in $bin_dir"
    return
  fi
  prepare_scratch_module
  mkdir -p "$build_dir/out" "$bin_dir"
  local ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_RUNTIME_VERSION"
  local name tags
  for name in daprd placement scheduler; do
    tags=""
    [ "$name" = daprd ] && tags="allcomponents"
    local t0
    t0=$(date +%s.%N)
    go build -C "$build_dir" -tags "$tags" -trimpath -ldflags "$ldflags" \
      -o "$build_dir/out/$name" "github.com/dapr/dapr/cmd/$name" >"$build_dir/build-$name.log" 2>&1 ||
      die "building $name failed; see $build_dir/build-$name.log" "$(tail -n 5 "$build_dir/build-$name.log")"
    # Install by rename so a concurrent reader never sees a half-written binary.
    cp "$build_dir/out/$name" "$bin_dir/.$name.new" && mv -f "$bin_dir/.$name.new" "$bin_dir/$name"
    say "    built $name ($(elapsed_since "$t0"))"
  done
  runtime_is_current || die "the installed binaries do not report version $DAPR_RUNTIME_VERSION."
}

build_cli() {
  if [ -x "$bin_dir/dapr" ] && "$bin_dir/dapr" --version 2>/dev/null | grep -qx "CLI version: $DAPR_CLI_VERSION"; then
    say "    dapr CLI $DAPR_CLI_VERSION already in $bin_dir"
    return
  fi
  local cli_dir="$cache_root/dapr-cli-build/v$DAPR_CLI_VERSION"
  mkdir -p "$cli_dir"
  if ! go mod download "github.com/dapr/cli@v$DAPR_CLI_VERSION" >"$cli_dir/download.log" 2>&1; then
    say "    SKIPPED: the Go module proxy does not serve github.com/dapr/cli@v$DAPR_CLI_VERSION:"
    say "      $(grep -m1 -oE '[0-9]{3} [A-Za-z ]+' "$cli_dir/download.log" || head -n1 "$cli_dir/download.log")"
    say "    Tests and the harness start daprd directly and do not need the CLI."
    say "    With network access to release downloads, install the CLI and run 'dapr init --slim' instead."
    return
  fi
  (
    cd "$cli_dir"
    [ -f go.mod ] || go mod init daprgen.local/dapr-cli-build >/dev/null 2>&1
    go get -tool "github.com/dapr/cli@v$DAPR_CLI_VERSION" >/dev/null 2>&1
    go build -trimpath -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION" -o "$bin_dir/dapr" github.com/dapr/cli
  ) || die "building the dapr CLI failed in $cli_dir"
  say "    built dapr CLI $DAPR_CLI_VERSION"
}

write_dapr_home() {
  mkdir -p "$DAPR_HOME/components"
  # The same defaults `dapr init` writes: a tracing configuration, and redis state and pub/sub
  # components for `dapr run` without --resources-path. Existing files are the user's: kept.
  [ -f "$DAPR_HOME/config.yaml" ] || cp "$repo_root/components/configuration/tracing.yaml" "$DAPR_HOME/config.yaml"
  [ -f "$DAPR_HOME/components/statestore.yaml" ] ||
    cp "$repo_root/components/state/redis.yaml" "$DAPR_HOME/components/statestore.yaml"
  [ -f "$DAPR_HOME/components/pubsub.yaml" ] ||
    cp "$repo_root/components/pubsub/redis.yaml" "$DAPR_HOME/components/pubsub.yaml"
  say "    $DAPR_HOME/config.yaml and $DAPR_HOME/components/ in place"
}

report() {
  local name
  for name in daprd placement scheduler; do
    say "    $(printf '%-9s' "$name") $(built_version "$bin_dir/$name")  ($bin_dir/$name)"
  done
  if [ -x "$bin_dir/dapr" ]; then
    say "    dapr      $("$bin_dir/dapr" --version | tr '\n' ' ')"
  fi
  case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *) say "    To use these binaries from your shell: export PATH=\"$bin_dir:\$PATH\"" ;;
  esac
}

mkdir -p "$cache_root"
say "Dapr runtime $DAPR_RUNTIME_VERSION (CLI $DAPR_CLI_VERSION) into $bin_dir"
step "checking prerequisites" check_prerequisites
step "redis-server" install_redis
step "daprd, placement, scheduler $DAPR_RUNTIME_VERSION" build_runtime
step "dapr CLI $DAPR_CLI_VERSION" build_cli
step "$DAPR_HOME configuration" write_dapr_home
step "installed versions" report
say "make dapr: ready in $(elapsed_since "$started_all")"
