#!/usr/bin/env bash
# `make bench`: the figures of docs/BENCHMARKS.md, measured side by side in one run.
#
# Sections, in order (BENCH_SECTIONS picks some, e.g. BENCH_SECTIONS="generator runtime"):
#   generator  wall and CPU time of `daprgen new` and `daprgen add entity` (the latter only when
#              daprgen has that subcommand), median of BENCH_NEW_RUNS runs of the release binary
#   build      cold `cargo build` of a generated service against the cold build of its
#              dependencies alone (same Cargo.lock), then the rebuild after a one-line edit of a
#              biz file, median of BENCH_REBUILD_EDITS edits
#   runtime    HTTP GET and PUT through the service's release binary next to a real daprd and
#              redis, against daprd's own state API doing the same state work, with wrk, at each
#              concurrency of BENCH_CONNECTIONS (BENCH_ROUNDS rounds of BENCH_SECONDS s runs);
#              resident memory of the service under that load (bench/src, bench/wrk/load.lua)
#   saga       sagas per second and p50 / p99 latency of the order-saga example (examples/order-saga,
#              three services beside real daprd), happy and compensating path, against the same
#              calls made directly through the order app's sidecar with no workflow, BENCH_SAGAS
#              sagas at BENCH_SAGA_CONCURRENCY, BENCH_ROUNDS rounds (tests/order-saga, saga-bench)
#
# Prerequisites are installed here: wrk from Debian when missing. `make bench` runs `make dapr`
# first (the Dapr runtime and redis-server). Expensive things are cached outside the clone under
# $DAPRGEN_CACHE (default ~/.cache/daprgen): the release build of the benchmarked service. Each
# run writes its logs and results to $DAPRGEN_CACHE/bench/runs/<time>/ (the ten latest runs are
# kept) and removes its scratch directories (a cold target directory is about 1.5 GB) unless
# BENCH_KEEP=1. Wall times on a shared machine depend on what else runs: CPU times are printed
# beside them.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${DAPRGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daprgen}
bench_cache="$cache_root/bench"
all_sections="generator build runtime saga"
sections=${BENCH_SECTIONS:-$all_sections}
new_runs=${BENCH_NEW_RUNS:-15}
rebuild_edits=${BENCH_REBUILD_EDITS:-5}
connections=${BENCH_CONNECTIONS:-1,16}
load_seconds=${BENCH_SECONDS:-10}
load_rounds=${BENCH_ROUNDS:-3}
cargo=${CARGO:-cargo}

# The service every section measures: daprgen's defaults, spelled out.
service_name=benchsvc
resource=item
resources_path=items
defines=(--define "resource=$resource")

run_dir="$bench_cache/runs/$(date -u +%Y%m%dT%H%M%SZ)"
# Earlier runs stay for comparison; the ten most recent are enough.
if [ -d "$bench_cache/runs" ]; then
  find "$bench_cache/runs" -mindepth 1 -maxdepth 1 -type d | sort | head -n -9 | xargs -r rm -rf
fi
work="$run_dir/work"
results="$run_dir/rows.md"
mkdir -p "$work"
: >"$results"

say() { printf '%s\n' "$*"; }
step() { printf '\n==> %s\n' "$*"; }
die() {
  printf '\nmake bench: error: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf '  %s\n' "$line" >&2; done
  exit 1
}

cleanup() {
  if [ "${BENCH_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# Microseconds since the epoch, from bash's own clock (no process is started to read it).
now_us() { local t=$EPOCHREALTIME; printf '%s\n' "${t/./}"; }

# The median of the numbers on stdin (one a line).
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# row FIGURE MEASURED FLOOR RATIO TARGET VERDICT: one row of the results table.
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@" >>"$results"; }

# verdict VALUE OP LIMIT: "met" or "**missed**", comparing with awk (values may be fractional).
verdict() {
  if awk -v v="$1" -v l="$3" "BEGIN { exit !(v $2 l) }"; then say met; else say '**missed**'; fi
}

# cpu_us FILE: user + system CPU µs of the waited-for children, from the output of `times`
# (its second line), which counts their own waited-for children too (cargo's rustc, rustfmt).
cpu_us() {
  awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
    printf "%.0f\n", t * 1e6 }' "$1"
}

ms() { awk -v us="$1" 'BEGIN { printf "%.0f", us / 1000 }'; }
seconds() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1e6 }'; }

# timed_build LOG LABEL COMMAND...: runs a long cargo build with its output in LOG, printing a
# progress line every 30 s; prints "WALL_US CPU_US" (CPU: user + system of every process the
# build ran). Fails with the log's tail when it fails.
timed_build() {
  local log=$1 label=$2
  shift 2
  local clock="$log.clock"
  (
    start=${EPOCHREALTIME/./}
    status=0
    "$@" >"$log" 2>&1 || status=$?
    end=${EPOCHREALTIME/./}
    times >"$clock.times"
    printf '%s %s %s %s\n' "$start" "$end" "$status" "$(cpu_us "$clock.times")" >"$clock"
  ) &
  local pid=$! waited=0
  # A heartbeat for the terminal, not a readiness wait: the build's own clock is read above.
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % 30)) -eq 0 ]; then
      say "    ... $label: ${waited} s, $(grep -c '^ *Compiling' "$log" || true) crates compiled" >&2
    fi
  done
  wait "$pid" || true
  local start end status cpu
  read -r start end status cpu <"$clock"
  if [ "$status" != 0 ]; then
    tail -n 30 "$log" >&2
    die "$label failed (exit $status); full log: $log"
  fi
  say "$((end - start)) $cpu"
}

# new_service DIR: renders the benchmarked service into DIR/$service_name.
new_service() {
  mkdir -p "$1"
  "$daprgen" new "$service_name" "${defines[@]}" --destination "$1" >"$1.log" 2>&1 ||
    die "daprgen new failed" "$(tail -n 20 "$1.log")"
}

prerequisites() {
  step "prerequisites"
  if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk (Debian package)"
    command -v apt-get >/dev/null 2>&1 || die "wrk is missing and this is not a Debian system" "Install wrk and rerun."
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null || die "apt-get install wrk failed"
  fi
  say "building daprgen (release) and the load driver"
  (cd "$repo_root" && "$cargo" build --quiet --locked --release -p daprgen && "$cargo" build --quiet --locked -p daprgen-bench) ||
    die "building daprgen or bench/ failed"
  target_dir=$(cd "$repo_root" && "$cargo" metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  daprgen="$target_dir/release/daprgen"
  service_load="$target_dir/debug/service-load"
  if [ ! -x "$daprgen" ] || [ ! -x "$service_load" ]; then
    die "built binaries not found under $target_dir"
  fi
}

# --- generator -----------------------------------------------------------------------------

# timed LOG COMMAND...: runs COMMAND in this shell with its output in LOG and appends
# "WALL_US CPU_US" to $samples (CPU: user + system of COMMAND and the processes it waited for,
# from `times`; the clock is bash's own, so nothing but COMMAND is started in between).
timed() {
  local log=$1 status=0 start end
  shift
  times >"$work/times.before"
  start=${EPOCHREALTIME/./}
  "$@" >"$log" 2>&1 || status=$?
  end=${EPOCHREALTIME/./}
  times >"$work/times.after"
  if [ "$status" = 0 ]; then
    echo "$((end - start)) $(($(cpu_us "$work/times.after") - $(cpu_us "$work/times.before")))" >>"$samples"
  fi
  return "$status"
}

# column N FILE: the median of column N of FILE.
column() { awk -v n="$1" '{ print $n }' "$2" | median; }

# spread FILE: "min / max" of column 1 of FILE, in ms.
spread() { printf '%s / %s' "$(ms "$(awk '{ print $1 }' "$1" | sort -n | head -n 1)")" "$(ms "$(awk '{ print $1 }' "$1" | sort -n | tail -n 1)")"; }

section_generator() {
  step "generator: daprgen new, $new_runs runs"
  samples="$work/new.samples"
  : >"$samples"
  local i
  for i in $(seq "$new_runs"); do
    mkdir -p "$work/new-$i"
    timed "$work/new-$i.log" "$daprgen" new "$service_name" "${defines[@]}" --destination "$work/new-$i" ||
      die "daprgen new failed" "$(tail -n 20 "$work/new-$i.log")"
  done
  local wall cpu
  wall=$(column 1 "$samples")
  cpu=$(column 2 "$samples")
  say "    median $(ms "$wall") ms wall, $(ms "$cpu") ms CPU (min / max wall $(spread "$samples") ms)"
  row "\`daprgen new\` wall time (median of $new_runs, min / max $(spread "$samples") ms; CPU $(ms "$cpu") ms, rustfmt included)" \
    "$(ms "$wall") ms" "-" "-" "< 300 ms" "$(verdict "$wall" '<' 300000)"
  bench_add_entity
  for i in $(seq "$new_runs"); do rm -rf "$work/new-$i"; done
}

# `daprgen add entity`, timed once daprgen has the subcommand: each run works on a fresh copy of
# a just-generated service (the copy is not timed), since a repeated `add` changes nothing.
bench_add_entity() {
  if ! "$daprgen" add --help 2>/dev/null | grep -Eq '^  entity( |$)'; then
    say "    daprgen add entity: not in this daprgen yet, not measured"
    return
  fi
  step "generator: daprgen add entity, $new_runs runs"
  samples="$work/add.samples"
  : >"$samples"
  local pristine="$work/new-1/$service_name" i copy
  for i in $(seq "$new_runs"); do
    copy="$work/add-$i"
    cp -r "$pristine" "$copy"
    timed "$copy.log" "$daprgen" add --path "$copy" entity customer --field name:string ||
      die "daprgen add entity failed" "$(tail -n 20 "$copy.log")"
    rm -rf "$copy"
  done
  local wall cpu
  wall=$(column 1 "$samples")
  cpu=$(column 2 "$samples")
  say "    median $(ms "$wall") ms wall, $(ms "$cpu") ms CPU"
  row "\`daprgen add entity customer --field name:string\` wall time (median of $new_runs, min / max $(spread "$samples") ms; CPU $(ms "$cpu") ms)" \
    "$(ms "$wall") ms" "-" "-" "< 100 ms" "$(verdict "$wall" '<' 100000)"
}

# --- build ---------------------------------------------------------------------------------

# deps_only_copy SERVICE COPY: COPY is SERVICE with every workspace crate emptied (targets kept,
# as empty `lib.rs` / `fn main() {}`, a build script as `fn main() {}`; other sources removed) and
# the same manifests and Cargo.lock: building it builds exactly the service's dependencies, its
# build-dependencies (the protobuf compiler of `api/build.rs`) included, since cargo builds those
# only for a crate that has a build script.
deps_only_copy() {
  local service=$1 copy=$2 manifest dir
  cp -r "$service" "$copy"
  while IFS= read -r manifest; do
    dir=$(dirname "$manifest")
    if grep -Eq '^[[:space:]]*build[[:space:]]*=' "$manifest"; then
      die "$manifest names a build script: deps_only_copy in bench/run.sh does not know that layout"
    fi
    find "$dir" -name '*.rs' ! -path '*/src/lib.rs' ! -path '*/src/main.rs' ! -path "$dir/build.rs" -delete
    if [ -f "$dir/build.rs" ]; then echo 'fn main() {}' >"$dir/build.rs"; fi
    if [ -f "$dir/src/lib.rs" ]; then : >"$dir/src/lib.rs"; fi
    if [ -f "$dir/src/main.rs" ]; then echo 'fn main() {}' >"$dir/src/main.rs"; fi
  done < <(find "$copy" -name Cargo.toml ! -path "$copy/Cargo.toml")
}

section_build() {
  step "build: cold cargo build of the service against its dependencies alone"
  new_service "$work/build"
  local service="$work/build/$service_name" deps="$work/build/deps-only"
  say "    resolving and downloading dependencies (not timed)"
  (cd "$service" && "$cargo" generate-lockfile --quiet && "$cargo" fetch --quiet --locked) ||
    die "cargo fetch failed in $service"
  deps_only_copy "$service" "$deps"
  # Both builds: fresh target directories, the same lock file, offline, one after the other.
  say "    cold build of the dependencies alone (several minutes)"
  local deps_wall deps_cpu full_wall full_cpu
  read -r deps_wall deps_cpu < <(cd "$deps" && timed_build "$run_dir/build-deps.log" "dependencies" \
    env CARGO_TARGET_DIR="$work/target-deps" "$cargo" build --locked --offline)
  say "    $(seconds "$deps_wall") s wall, $(seconds "$deps_cpu") s CPU"
  # Only its time is needed: free the disk before the second cold build.
  rm -rf "$work/target-deps"
  say "    cold build of the service (several minutes)"
  read -r full_wall full_cpu < <(cd "$service" && timed_build "$run_dir/build-full.log" "service" \
    env CARGO_TARGET_DIR="$work/target-full" "$cargo" build --locked --offline --timings)
  say "    $(seconds "$full_wall") s wall, $(seconds "$full_cpu") s CPU"
  cp "$work"/target-full/cargo-timings/cargo-timing.html "$run_dir/build-full-timings.html" 2>/dev/null || true
  local units_deps units_full ratio cpu_ratio
  units_deps=$(grep -c '^ *Compiling' "$run_dir/build-deps.log" || true)
  units_full=$(grep -c '^ *Compiling' "$run_dir/build-full.log" || true)
  ratio=$(awk -v f="$full_wall" -v d="$deps_wall" 'BEGIN { printf "%.2f", f / d }')
  cpu_ratio=$(awk -v f="$full_cpu" -v d="$deps_cpu" 'BEGIN { printf "%.2f", f / d }')
  # Wall time is what the target is about, but on a shared machine either build may be slowed
  # by others; CPU time is not. The verdict takes the worse of the two ratios.
  local worse
  worse=$(awk -v a="$ratio" -v b="$cpu_ratio" 'BEGIN { print (a > b ? a : b) }')
  row "cold \`cargo build\` of the service, dev profile ($units_full packages; CPU $(seconds "$full_cpu") s)" \
    "$(seconds "$full_wall") s" "$(seconds "$deps_wall") s, dependencies alone ($units_deps packages; CPU $(seconds "$deps_cpu") s)" \
    "${ratio}x wall, ${cpu_ratio}x CPU" "<= 1.25x" "$(verdict "$worse" '<=' 1.25)"

  step "build: rebuild after editing one biz file, $rebuild_edits edits"
  local file="$service/crates/biz/src/${resource}_usecase.rs" i wall cpu
  [ -f "$file" ] || die "$file is missing: the benchmark edits that file"
  samples="$work/rebuild.samples"
  : >"$samples"
  (cd "$service" && CARGO_TARGET_DIR="$work/target-full" "$cargo" build --quiet --locked --offline) ||
    die "the no-op build before the edits failed"
  for i in $(seq "$rebuild_edits"); do
    # A real change of the crate's code (a public constant), not only of a comment.
    if [ "$i" = 1 ]; then
      printf '\n/// Changed by each rebuild of make bench.\npub const BENCH_EDIT: &str = "edit 1";\n' >>"$file"
    else
      sed -i "s/^pub const BENCH_EDIT: &str = \"edit [0-9]*\";/pub const BENCH_EDIT: \&str = \"edit $i\";/" "$file"
    fi
    read -r wall cpu < <(cd "$service" && timed_build "$run_dir/rebuild-$i.log" "rebuild $i" \
      env CARGO_TARGET_DIR="$work/target-full" "$cargo" build --locked --offline)
    say "    edit $i: $(seconds "$wall") s wall, $(seconds "$cpu") s CPU"
    echo "$wall $cpu" >>"$samples"
  done
  wall=$(column 1 "$samples")
  cpu=$(column 2 "$samples")
  row "rebuild (\`cargo build\`) after editing crates/biz/src/${resource}_usecase.rs (median of $rebuild_edits; CPU $(seconds "$cpu") s)" \
    "$(seconds "$wall") s" "-" "-" "< 5 s" "$(verdict "$wall" '<' 5000000)"
  rm -rf "$work/target-full" "$work/build"
}

# --- runtime -------------------------------------------------------------------------------

# sync_tree FROM TO: makes TO a copy of FROM (its Cargo.lock aside), rewriting only the files
# whose content differs, so that cargo, which goes by modification times, rebuilds only what a
# change of the template changed.
sync_tree() {
  local from=$1 to=$2 file
  mkdir -p "$to"
  while IFS= read -r file; do
    if ! cmp -s "$from/$file" "$to/$file"; then
      mkdir -p "$(dirname "$to/$file")"
      cp "$from/$file" "$to/$file"
    fi
  done < <(cd "$from" && find . -type f)
  while IFS= read -r file; do
    [ -e "$from/$file" ] || rm -f "$to/$file"
  done < <(cd "$to" && find . -type f ! -name Cargo.lock)
}

section_runtime() {
  step "runtime: GET and PUT through the service vs daprd's state API (connections: $connections)"
  # A stable copy and a cached target directory: later runs rebuild only what changed.
  new_service "$work/runtime"
  local service="$bench_cache/service"
  sync_tree "$work/runtime/$service_name" "$service"
  say "    release build of the service (cached in $bench_cache/release-target; minutes the first time)"
  local wall cpu
  read -r wall cpu < <(cd "$service" && timed_build "$run_dir/build-release.log" "release build" \
    env CARGO_TARGET_DIR="$bench_cache/release-target" "$cargo" build --release)
  say "    $(seconds "$wall") s"
  "$service_load" \
    --service-dir "$service" \
    --binary "$bench_cache/release-target/release/$service_name" \
    --app-id "$service_name" \
    --resource "$resource" \
    --resources-path "$resources_path" \
    --connections "$connections" \
    --seconds "$load_seconds" \
    --rounds "$load_rounds" \
    --script "$repo_root/bench/wrk/load.lua" \
    --work-dir "$run_dir/runtime" \
    --results "$results" ||
    die "the runtime benchmark failed (or saw failed requests); logs in $run_dir/runtime"
  # One JSON line per request: tens of MB as text.
  gzip -f "$run_dir/runtime/service.log"
}

# --- saga ----------------------------------------------------------------------------------

section_saga() {
  step "saga: order-saga sagas per second and latency vs the same calls without a workflow"
  say "    building saga-bench (release); it builds the example's services when their sources changed"
  (cd "$repo_root" && "$cargo" build --quiet --locked --release -p order-saga --bin saga-bench) ||
    die "building saga-bench failed"
  local saga_bench="$target_dir/release/saga-bench" log="$run_dir/saga.log"
  [ -x "$saga_bench" ] || die "$saga_bench not found after its build"
  # Its progress lines (prefixed "order-saga: ") on the terminal; everything, daprd's stop
  # messages included, in the log. The rows (stdout) go into the results table.
  BENCH_ROUNDS="$load_rounds" "$saga_bench" "$run_dir/saga.json" >"$run_dir/saga-rows.md" \
    2> >(tee "$log" | grep --line-buffered -E '^order-saga: (round|warmed|[0-9]+ stock|stack ready|built|building)' | sed 's/^order-saga: /    /' >&2) ||
    die "the saga benchmark failed; its log: $log" "$(grep -v '^time=' "$log" | tail -n 20)"
  cat "$run_dir/saga-rows.md" >>"$results"
}

# --- report --------------------------------------------------------------------------------

machine() {
  local model memory
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1024 / 1024 }' /proc/meminfo)
  say "$(nproc) cores ($model), $memory RAM, $(uname -sr), $(rustc --version)"
}

main() {
  local started load_before
  started=$(now_us)
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  prerequisites
  local section
  for section in $sections; do
    case " $all_sections " in
      *" $section "*) "section_$section" ;;
      *) die "unknown section '$section'" "Sections: $all_sections" ;;
    esac
  done
  local report="$run_dir/results.md"
  {
    say "date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(machine)"
    say "load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg); command: make bench"
    say ""
    say "| figure | measured | floor | ratio | target | |"
    say "|---|---|---|---|---|---|"
    cat "$results"
    if [ -f "$run_dir/runtime/cpu.md" ]; then
      say ""
      say "CPU time per operation, by process (runtime section, median over rounds):"
      cat "$run_dir/runtime/cpu.md"
    fi
    if [ -f "$run_dir/saga.cpu.md" ]; then
      say ""
      say "CPU time per saga, by process (saga section, median over rounds):"
      cat "$run_dir/saga.cpu.md"
    fi
  } >"$report"
  step "results ($(seconds $(($(now_us) - started))) s in all; kept in $report)"
  cat "$report"
}

main "$@"
