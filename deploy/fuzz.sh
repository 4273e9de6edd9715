#!/usr/bin/env bash
# fuzz.sh [SECONDS_PER_HARNESS]: build the libFuzzer harnesses (tests/fuzz/)
# with clang into build-fuzz/ and run each one for SECONDS_PER_HARNESS
# (default 60) on a copy of its seed corpus and regression inputs, so nothing
# is ever written into the repository. Prints one line per harness:
#   fuzz <name>: execs=N exec/s=N crashes=N corpus=N
# and exits non-zero if any harness crashed, leaked or timed out, naming the
# input libFuzzer saved. Full logs: build-fuzz/fuzz-<name>.log.
#
# Installs clang and libclang-rt-14-dev (libFuzzer) with apt-get when missing;
# the other build dependencies come from deploy/install-deps.sh.
#
# Environment: FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS (build
# parallelism, default nproc), FUZZ_ARGS (extra libFuzzer flags), FUZZ_SKIP
# (harness names not to run: one whose open finding is kept in tests/fuzz/known/),
# FUZZ_PAR (harnesses run at once, default nproc),
# FUZZ_SEED (libFuzzer's -seed: the same seed, binary and corpus give the same
# inputs in the same order, so a slower machine runs a prefix of a faster one's
# run; unset, each run explores anew).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_PER=${1:-60}
PACKAGES=(clang libclang-rt-14-dev)

log() { printf 'fuzz.sh: %s\n' "$*"; }
die() { printf 'fuzz.sh: error: %s\n' "$*" >&2; exit 2; }

[[ "$SECONDS_PER" =~ ^[1-9][0-9]*$ ]] || die "usage: $0 [SECONDS_PER_HARNESS] (a positive integer)"

# ---- clang and libFuzzer, installed as install-deps.sh does ----
missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ "$status" == ii* ]] || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
	SUDO=()
	if ((EUID != 0)); then
		command -v sudo >/dev/null 2>&1 ||
			die "not root and sudo not found: apt-get install ${missing[*]}"
		SUDO=(sudo)
	fi
	log "installing ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update || die "apt-get update failed"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
fi
command -v clang >/dev/null 2>&1 || die "clang not found after install"

# ---- build ----
log "configuring $BUILD"
mkdir -p "$BUILD"
# A tree configured with another compiler cannot switch to clang: start it over.
if [[ -f "$BUILD/CMakeCache.txt" ]] &&
	! grep -q '^CMAKE_C_COMPILER:[A-Z]*=.*clang' "$BUILD/CMakeCache.txt"; then
	rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi
CC=clang cmake -S "$ROOT" -B "$BUILD" -DTRIAGED_FUZZ=ON >"$BUILD/configure.log" 2>&1 ||
	{ tail -n 40 "$BUILD/configure.log" >&2; die "cmake configure failed"; }
log "building harnesses"
cmake --build "$BUILD" --target fuzz -j "${FUZZ_JOBS:-$(nproc)}" >"$BUILD/build.log" 2>&1 ||
	{ tail -n 40 "$BUILD/build.log" >&2; die "build failed (see $BUILD/build.log)"; }

# Longest input per harness: above each module's own cap, so the cap's error path runs too.
max_len() {
	case "$1" in
	ticket) echo 300000 ;; # intake.max_message_bytes default is 256 KiB
	triage) echo 65536 ;;
	config) echo 16384 ;;
	prompt) echo 65536 ;;
	rules) echo 65536 ;;
	injection) echo 20000 ;;   # customer text: the 16 KiB the model sees, and more
	draft_check) echo 10000 ;; # policy.max_len default is 4000
	*) echo 65536 ;;
	esac
}

# A number from libFuzzer's -print_final_stats output ("stat::<name>: N"), 0 if absent.
final_stat() {
	local v
	v=$(sed -n "s/^stat::$1: *\([0-9][0-9]*\).*/\1/p" "$2" | tail -n 1)
	echo "${v:-0}"
}

# run_one NAME: one harness for SECONDS_PER; prints its line (and any finding) and
# returns non-zero if it crashed, leaked or timed out.
run_one() {
	local h=$1 bin corpus artifacts logf rc crashes d
	bin=$BUILD/fuzz_$h
	corpus=$BUILD/corpus-$h
	artifacts=$BUILD/artifacts-$h
	logf=$BUILD/fuzz-$h.log
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	for d in "$ROOT/tests/fuzz/corpus/$h" "$ROOT/tests/fuzz/regress/$h"; do
		if [[ -d "$d" ]]; then
			find "$d" -maxdepth 1 -type f -exec cp -t "$corpus" {} +
		fi
	done
	local args=(-max_total_time="$SECONDS_PER" -print_final_stats=1 -max_len="$(max_len "$h")"
		-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/")
	if [[ -n "${FUZZ_SEED:-}" ]]; then
		args+=(-seed="$FUZZ_SEED")
	fi
	if [[ -f "$ROOT/tests/fuzz/$h.dict" ]]; then
		args+=(-dict="$ROOT/tests/fuzz/$h.dict")
	fi
	if [[ -n "${FUZZ_ARGS:-}" ]]; then
		# shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags on purpose
		args+=($FUZZ_ARGS)
	fi

	rc=0
	"$bin" "${args[@]}" "$corpus" >"$logf" 2>&1 || rc=$?

	crashes=$(find "$artifacts" -type f | wc -l)
	printf 'fuzz %s: execs=%s exec/s=%s crashes=%s corpus=%s\n' "$h" \
		"$(final_stat number_of_executed_units "$logf")" "$(final_stat average_exec_per_sec "$logf")" \
		"$crashes" "$(find "$corpus" -type f | wc -l)"
	if ((rc != 0 || crashes > 0)); then
		grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*FUZZ_CHECK failed)' "$logf" | head -n 5 | sed 's/^/  /' || true
		find "$artifacts" -type f | sed 's/^/  input saved: /'
		echo "  exit status $rc; log: $logf"
		echo "  reproduce: $bin $(find "$artifacts" -type f | head -n 1)"
		return 1
	fi
	return 0
}

# FUZZ_PAR harnesses at a time (default: the number of cores). Each keeps its own
# SECONDS_PER of one core, so the run's wall time shrinks and each harness's
# executions do not (with a fixed FUZZ_SEED it still runs the same inputs in order).
PAR=${FUZZ_PAR:-$(nproc)}
[[ "$PAR" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_PAR must be a positive integer"
names=()
for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	h=${h#fuzz_}
	[[ "$h" == util ]] && continue
	if [[ " ${FUZZ_SKIP:-} " == *" $h "* ]]; then
		echo "fuzz $h: skipped (FUZZ_SKIP: an open finding, inputs in tests/fuzz/known/$h)"
		continue
	fi
	if [[ ! -x "$BUILD/fuzz_$h" ]]; then
		echo "fuzz $h: skipped (not built: its module is not in service/ yet)"
		continue
	fi
	names+=("$h")
done

log "running ${names[*]} for ${SECONDS_PER}s each, $PAR at a time"
rm -f "$BUILD"/rc-*.txt "$BUILD"/summary-*.txt
running=0
for h in "${names[@]}"; do
	if ((running >= PAR)); then
		wait -n || true
		running=$((running - 1))
	fi
	{
		rc=0
		run_one "$h" >"$BUILD/summary-$h.txt" 2>&1 || rc=$?
		echo "$rc" >"$BUILD/rc-$h.txt"
	} &
	running=$((running + 1))
done
wait

# Lines in harness order, whatever order they finished in.
failed=0
for h in "${names[@]}"; do
	cat "$BUILD/summary-$h.txt"
	[[ "$(cat "$BUILD/rc-$h.txt" 2>/dev/null)" == 0 ]] || failed=1
done
exit "$failed"
