#!/usr/bin/env bash
# bench.sh: the benchmark (see deploy/BENCHMARK.md). Not part of the test run.
# Builds build-bench/ (Release), starts the real parts (a throwaway PostgreSQL
# with its durable defaults, the dev Kafka broker, the fake model), runs the
# scenarios and prints one table at the end. Everything it starts is stopped
# at exit, Ctrl-C included; its files live in one mktemp directory.
#
#   deploy/bench.sh [-n N] [--scenario zero|slow|half|model|all] [--rate R]
#                   [--keep-logs] [--profile] [--no-python] [--fixed-answer]
#
#   -n N           tickets per scenario (default 20000)
#   --scenario S   zero: model answers at once, tickets preloaded
#                  slow: model takes 800 +- 200 ms, 2,048 in flight, preloaded
#                  half: model at 0 ms, tickets produced at R/s while triaged runs
#                        (R: --rate, else half of zero's tickets/s; runs zero first)
#                  model: the fake model alone under wrk (64 connections, 10 s)
#                  all (default): zero, half, slow, model
#   --rate R       the production rate of the half scenario, tickets/s
#   --keep-logs    keep the work directory (logs, perf data) and say where
#   --profile      perf record the daemon in every scenario (implies --keep-logs;
#                  BENCH_PERF_CALLGRAPH=dwarf for call graphs through libraries)
#   --fixed-answer the fake model answers every call with deploy/bench/fixed-answer.json
#                  (a fixed-response server, as issue #15 measured: only the rules that
#                  read the ticket's text escalate); by default it derives each answer
#                  from the ticket's words (23% of the sample tickets escalate)
#   --no-python    skip the Python baseline (deploy/bench/pyworker.py), which by
#                  default runs after zero and slow on the same parts, same N and
#                  same model latency; the second table gives the ratio (issue #15)
#   --model-tls P  the daemon reaches the fake model over TLS through nghttpx (Debian's
#                  nghttp2-proxy, installed if missing), as it reaches a hosted provider:
#                  P is h2 (ALPN offers HTTP/2, as OpenAI's endpoint does) or h1 (HTTP/1.1
#                  only). nghttpx terminates TLS and forwards HTTP/1.1 to the fake model; its
#                  CPU is noted. The Python worker stays on plain HTTP (its ratio is not the
#                  point of this mode: the daemon's memory and connections are)
#
# triaged runs the shipped configuration: -c deploy/triaged.ini.example, the
# shipped rules (deploy/rules.conf) and the default safety settings. The
# Python worker's concurrency: BENCH_PY_CONCURRENCY (default 100), its batch
# BENCH_PY_BATCH (default 200), its interpreter BENCH_PYTHON (default /usr/bin/python3).
# TRIAGED_* variables in the environment reach the daemon (to try a setting)
# unless the benchmark sets the same one: bootstrap, group, conninfo, model
# URLs, schema dir, http listen, and in slow the in-flight limits.
# TRIAGED_KAFKA_FETCH_WAIT_MAX_MS defaults to 10 here: see BENCHMARK.md.
# BENCH_PG_STATEMENTS=1 loads pg_stat_statements (track=all) and notes, per scenario, the
# top-level statements' shares of PostgreSQL's execution time (issue #15); the whole list,
# nested statements too, stays in the scenario's statements.txt (logs kept; its last two
# columns are plans and planning ms, counted with BENCH_PG_OPTIONS="-c
# pg_stat_statements.track_planning=on"), and every
# index's reads in the run and size in its indexes.txt (the note names those never read);
# what the WAL holds by kind of record (wal.txt) and by relation (wal-relations.txt), and the
# average width of each column of the write path's tables (columns.txt).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"
BUILD="$ROOT/build-bench"
SAMPLES="$ROOT/deploy/samples/tickets.jsonl"

N=20000
SCENARIO=all
RATE=""
KEEP_LOGS=0
PROFILE=0
PYTHON=1
FM_ANSWER=()
MODEL_TLS=""

usage() {
	sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}
say() { printf '==> %s\n' "$*" >&2; }

while (($# > 0)); do
	case $1 in
	-n)
		(($# >= 2)) || die "-n needs a number"
		N=$2
		shift 2
		;;
	--scenario)
		(($# >= 2)) || die "--scenario needs a name"
		SCENARIO=$2
		shift 2
		;;
	--rate)
		(($# >= 2)) || die "--rate needs a number"
		RATE=$2
		shift 2
		;;
	--keep-logs)
		KEEP_LOGS=1
		shift
		;;
	--no-python)
		PYTHON=0
		shift
		;;
	--fixed-answer)
		FM_ANSWER=(--answer-file "$ROOT/deploy/bench/fixed-answer.json")
		shift
		;;
	--model-tls)
		(($# >= 2)) || die "--model-tls needs h1 or h2"
		MODEL_TLS=$2
		shift 2
		;;
	--profile)
		PROFILE=1
		KEEP_LOGS=1
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "-n: want a positive integer, got '$N'"
[[ -z $RATE || $RATE =~ ^[1-9][0-9]*$ ]] || die "--rate: want a positive integer, got '$RATE'"
case $SCENARIO in
zero | slow | half | model | all) ;;
*) die "--scenario: want zero, slow, half, model or all, got '$SCENARIO'" ;;
esac
[[ -z $MODEL_TLS || $MODEL_TLS == h1 || $MODEL_TLS == h2 ]] || die "--model-tls: want h1 or h2, got '$MODEL_TLS'"
[[ -z $RATE || $SCENARIO == half || $SCENARIO == all ]] || die "--rate is for the half scenario (--scenario half or all)"

# ------------------------------------------------------------------ cleanup

WORK=""
PG_STARTED=0
PIDS=() # every background process this script started and has not reaped

as_pg() {
	if ((EUID == 0)); then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# stop_pid PID [SIGNAL] [SECONDS]: signal, wait for it, SIGKILL after SECONDS.
stop_pid() {
	local pid=$1 sig=${2:-TERM} secs=${3:-10} i
	kill -0 "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	kill "-$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

forget_pid() {
	local p keep=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

cleanup() {
	local rc=$? p
	trap - EXIT INT TERM
	for p in "${PIDS[@]}"; do
		stop_pid "$p" TERM 5
	done
	if ((PG_STARTED)); then
		as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [[ -n $WORK && -d $WORK ]]; then
		if ((KEEP_LOGS)); then
			rm -rf "$WORK/pg/data"
			printf 'bench: logs kept in %s\n' "$WORK" >&2
		else
			rm -rf "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ helpers

# now_us: microseconds since the epoch into NOW_US (no subshell).
now_us() { NOW_US=${EPOCHREALTIME//[!0-9]/}; }

# calc EXPR: floating-point arithmetic through awk.
calc() { awk "BEGIN { printf \"%s\", ($1) }"; }

sql() { # sql DB QUERY: one unaligned result, notices off
	PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$WORK/pg" -U postgres -d "$1" -c "$2"
}

# wait_file PATH SECONDS: wait until PATH is non-empty.
wait_file() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -s $1 ]] && return 0
		sleep 0.1
	done
	return 1
}

# logfmt_field LINE KEY: the value of KEY= in a logfmt line, or "n/a".
logfmt_field() {
	local v
	v=$(sed -nE "s/.*(^| )$2=\"?([^\" ]*)\"?.*/\\2/p" <<<"$1")
	printf '%s' "${v:-n/a}"
}

# machine_busy: percent of the machine's CPU time (all cores) spent busy
# during the next second, by anyone.
machine_busy() {
	local a b ta=0 tb=0 i
	read -r -a a </proc/stat
	sleep 1
	read -r -a b </proc/stat
	for ((i = 1; i <= 8; i++)); do
		ta=$((ta + a[i]))
		tb=$((tb + b[i]))
	done
	((tb > ta)) || {
		echo 0
		return
	}
	echo $((100 * ((tb - ta) - (b[4] + b[5] - a[4] - a[5])) / (tb - ta)))
}

# ticks_of PID...: CPU clock ticks (utime+stime+cutime+cstime) of the PIDs.
ticks_of() {
	local p line f sum=0
	for p in "$@"; do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		read -r -a f <<<"${line##*) }"
		sum=$((sum + f[11] + f[12] + f[13] + f[14]))
	done
	echo "$sum"
}

# pg_ticks: CPU ticks of the PostgreSQL cluster (postmaster, its live children
# and the children it has reaped).
pg_ticks() {
	local pm
	pm=$(head -1 "$WORK/pg/data/postmaster.pid" 2>/dev/null) || {
		echo 0
		return
	}
	# shellcheck disable=SC2046 # one pid per word
	ticks_of "$pm" $(pgrep -P "$pm")
}

# per_ticket TICKS_EXPR: milliseconds of CPU per ticket.
per_ticket() { printf '%.3f' "$(calc "($1) * 1000 / $HZ / $N")"; }

# machine_ticks: busy CPU ticks of the whole machine, all cores, everyone.
machine_ticks() {
	local a
	read -r -a a </proc/stat
	echo $((a[1] + a[2] + a[3] + a[6] + a[7])) # user nice system irq softirq
}

# json_str TEXT: TEXT as a JSON string literal (enough for prompt text).
json_str() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	s=${s//$'\n'/\\n}
	s=${s//$'\r'/\\r}
	s=${s//$'\t'/\\t}
	printf '"%s"' "$s"
}

# ------------------------------------------------------------------ setup

say "installing missing packages (if any)"
deploy/install-deps.sh >&2
if ((PYTHON)); then
	deploy/install-deps.sh --bench >&2
fi
if ! command -v wrk >/dev/null 2>&1 && [[ $SCENARIO == model || $SCENARIO == all ]]; then
	say "installing wrk"
	SUDO=()
	((EUID == 0)) || SUDO=(sudo)
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2 ||
		die "cannot install wrk"
fi
if [[ -n $MODEL_TLS ]] && ! command -v nghttpx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nghttpx ]]; then
	say "installing nghttp2-proxy (nghttpx)"
	SUDO=()
	((EUID == 0)) || SUDO=(sudo)
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nghttp2-proxy >&2 ||
		die "cannot install nghttp2-proxy"
fi
if ((PROFILE)) && ! command -v perf >/dev/null 2>&1; then
	say "installing linux-perf"
	SUDO=()
	((EUID == 0)) || SUDO=(sudo)
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends linux-perf >&2 ||
		die "cannot install linux-perf"
fi
PGBIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
HZ=$(getconf CLK_TCK)
[[ -x $PGBIN/initdb ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql"

say "building $BUILD (Release)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target triaged triaged-devbroker triaged-fakemodel triaged-produce >/dev/null

# 2,048 model connections plus Kafka, PostgreSQL and the listener need more than 1,024 fds.
if [[ $(ulimit -Hn) == unlimited ]] || (($(ulimit -Hn) >= 8192)); then
	(($(ulimit -Sn) >= 8192)) || ulimit -Sn 8192
else
	ulimit -Sn "$(ulimit -Hn)"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/triaged-bench.XXXXXX")
mkdir -p "$WORK/pg"
if ((EUID == 0)); then
	chmod 711 "$WORK"
	chown postgres "$WORK/pg"
fi

say "starting PostgreSQL (defaults: fsync and synchronous_commit on) in $WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 ||
	die "initdb failed (see $WORK/initdb.log)"
PG_STARTED=1
PG_STATS_OPT=""
if [[ ${BENCH_PG_STATEMENTS:-0} == 1 ]]; then
	PG_STATS_OPT="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
fi
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/server.log" -w \
	-o "-c listen_addresses='' -c unix_socket_directories='$WORK/pg' $PG_STATS_OPT ${BENCH_PG_OPTIONS:-}" start >/dev/null ||
	die "PostgreSQL did not start (see $WORK/pg/server.log)"
PG_FSYNC=$(sql postgres "SHOW fsync")
PG_SYNC=$(sql postgres "SHOW synchronous_commit")
PG_VERSION=$(sql postgres "SHOW server_version")

# Partitions: the mock broker keeps ~5 MiB per partition and silently drops
# older messages, so size for bytes / 4 MiB, and never fewer than 16.
SAMPLE_LINES=$(grep -c . "$SAMPLES")
SAMPLE_BYTES=$(wc -c <"$SAMPLES")
PARTITIONS=$(((N * (SAMPLE_BYTES / SAMPLE_LINES + 64) + 4194303) / 4194304))
((PARTITIONS >= 16)) || PARTITIONS=16

declare -A TRIAGED_RATE=() PY_RATE=() # per scenario key: tickets/s, for the side-by-side table
ROWS=()  # formatted table rows
NOTES=() # lines printed under the table
ZERO_RATE=""
MODEL_RPS=""

# ------------------------------------------------------------------ a scenario

# run_scenario KEY LABEL LATENCY_MS JITTER_MS RATE [VAR=VALUE...]
# RATE empty: preload N tickets, then start triaged; else start triaged, wait
# for its partitions, and produce N tickets at RATE/s while it runs.
# model_tls_start DIR MODEL_PORT: nghttpx in front of the fake model, TLS with
# a throwaway certificate; sets TLS_PORT and TLS_PID (--model-tls).
model_tls_start() {
	local dir=$1 backend=$2 alpn=h2,http/1.1 i
	[[ $MODEL_TLS == h2 ]] || alpn=http/1.1
	if [[ ! -f $WORK/tls/cert.pem ]]; then
		mkdir -p "$WORK/tls"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
			-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
			-keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" >"$WORK/tls/openssl.log" 2>&1 ||
			die "openssl could not make a certificate (see $WORK/tls/openssl.log)"
	fi
	TLS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# one worker thread; no limit on backend connections per frontend
	# (HTTP/1.1 to the fake model: one per stream in flight)
	"$(command -v nghttpx || echo /usr/sbin/nghttpx)" --conf=/dev/null -n1 -f "127.0.0.1,$TLS_PORT" -b "127.0.0.1,$backend" \
		--npn-list="$alpn" --backend-connections-per-frontend=0 --no-ocsp -L WARN \
		--errorlog-file="$dir/nghttpx.log" "$WORK/tls/key.pem" "$WORK/tls/cert.pem" 2>>"$dir/nghttpx.log" &
	TLS_PID=$!
	PIDS+=("$TLS_PID")
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null --cacert "$WORK/tls/cert.pem" "https://127.0.0.1:$TLS_PORT/" && return 0
		sleep 0.1
	done
	die "nghttpx did not start (see $dir/nghttpx.log)"
}

run_scenario() {
	local key=$1 label=$2 latency=$3 jitter=$4 rate=$5
	shift 5
	local dir="$WORK/$key" db="bench_$key" boot port dpid fpid="" perf_pid="" t_start
	local count=0 deadline status="ok" stat fields=() ticks hwm_kb cpu_ms rss_mb summary
	local rows dist needs_human escalated dlq span e2e wall p50 p99 i busy
	local denv=()

	say "scenario $label: $N tickets"
	mkdir -p "$dir"
	sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	sql postgres "CREATE DATABASE $db" >/dev/null

	"$BUILD/triaged-devbroker" --topic "tickets.incoming:$PARTITIONS" --topic tickets.dlq:1 \
		--topic "tickets.triaged:$PARTITIONS" \
		--bootstrap-file "$dir/bootstrap" >"$dir/broker.out" 2>"$dir/broker.log" &
	PIDS+=("$!")
	local broker_pid=$!
	"$BUILD/triaged-fakemodel" --quiet --port-file "$dir/model.port" "${FM_ANSWER[@]}" \
		--latency-ms "$latency" --jitter-ms "$jitter" 2>"$dir/fakemodel.log" &
	PIDS+=("$!")
	local model_pid=$!
	wait_file "$dir/bootstrap" 20 || die "the dev broker did not start (see $dir/broker.log)"
	wait_file "$dir/model.port" 20 || die "the fake model did not start (see $dir/fakemodel.log)"
	boot=$(head -1 "$dir/bootstrap")
	port=$(head -1 "$dir/model.port")
	local model_url="http://127.0.0.1:$port/v1" tls_pid="" tls0=0 tlsenv=()
	if [[ -n $MODEL_TLS ]]; then
		model_tls_start "$dir" "$port"
		tls_pid=$TLS_PID
		model_url="https://127.0.0.1:$TLS_PORT/v1"
		tlsenv=("TRIAGED_MINI_CA_FILE=$WORK/tls/cert.pem" "TRIAGED_FLAGSHIP_CA_FILE=$WORK/tls/cert.pem")
	fi

	denv=(
		# the shipped rules unless the caller says otherwise (TRIAGED_TRIAGE_RULES_FILE= : off)
		"TRIAGED_TRIAGE_RULES_FILE=${TRIAGED_TRIAGE_RULES_FILE-$ROOT/deploy/rules.conf}"
		"TRIAGED_KAFKA_BOOTSTRAP_SERVERS=$boot"
		"TRIAGED_KAFKA_GROUP_ID=bench-$key-$$"
		"TRIAGED_KAFKA_SESSION_TIMEOUT_MS=6000"
		"TRIAGED_POSTGRES_CONNINFO=host=$WORK/pg user=postgres dbname=$db"
		"TRIAGED_MINI_BASE_URL=$model_url"
		"TRIAGED_FLAGSHIP_BASE_URL=$model_url"
		"${tlsenv[@]}"
		"TRIAGED_SCHEMA_DIR=$ROOT/schema"
		"TRIAGED_HTTP_LISTEN="
		# The mock broker holds a Fetch that finds no data for the full
		# fetch.wait.max.ms (500 ms by default) even when data arrives
		# meanwhile; a real broker answers as soon as data is there. Without
		# this, a rate-limited run measures the mock: tickets come in 500 ms waves.
		"TRIAGED_KAFKA_FETCH_WAIT_MAX_MS=${TRIAGED_KAFKA_FETCH_WAIT_MAX_MS:-10}"
		"$@"
	)
	env "${denv[@]}" "$BUILD/triaged" -c "$ROOT/deploy/triaged.ini.example" migrate >"$dir/migrate.log" 2>&1 ||
		die "triaged migrate failed (see $dir/migrate.log)"

	if [[ -z $rate ]]; then
		"$BUILD/triaged-produce" -b "$boot" -t tickets.incoming -f "$SAMPLES" -n "$N" --repeat \
			--id-prefix "$key-" 2>"$dir/produce.log" ||
			die "preloading failed (see $dir/produce.log)"
		deadline=$((SECONDS + 60 + N / 100))
	else
		deadline=$((SECONDS + 90 + N / rate))
	fi

	# Anything else running here competes with the parts for the cores.
	busy=$(machine_busy)
	((busy < 10)) || NOTES+=("$label: the machine was already ${busy}% busy (all cores) before the run: other processes compete, figures are pessimistic")

	local pg0 fm0 br0 mach0 wal0
	if [[ ${BENCH_PG_STATEMENTS:-0} == 1 ]]; then
		sql "$db" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
		sql "$db" "SELECT pg_stat_statements_reset()" >/dev/null
	fi
	pg0=$(pg_ticks)
	wal0=$(sql postgres "SELECT pg_current_wal_insert_lsn()")
	fm0=$(ticks_of "$model_pid")
	br0=$(ticks_of "$broker_pid")
	# nghttpx: its master and its worker process
	[[ -z $tls_pid ]] || tls0=$(ticks_of "$tls_pid" $(pgrep -P "$tls_pid"))
	mach0=$(machine_ticks)
	now_us
	t_start=$NOW_US
	if ((PROFILE)); then
		# Under perf from the first instruction, so librdkafka's threads are
		# sampled too; the daemon is perf's child.
		perf record --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -F 999 -o "$dir/perf.data" -- env "${denv[@]}" "$BUILD/triaged" -c "$ROOT/deploy/triaged.ini.example" \
			>"$dir/triaged.log" 2>&1 &
		perf_pid=$!
		PIDS+=("$perf_pid")
		dpid=""
		for ((i = 0; i < 100; i++)); do
			dpid=$(pgrep -P "$perf_pid" -x triaged || true)
			[[ -z $dpid ]] || break
			sleep 0.05
		done
		[[ -n $dpid ]] || die "triaged did not start under perf (see $dir/triaged.log)"
	else
		# BENCH_DAEMON_WRAP: a command in front of the daemon, e.g.
		# "valgrind --tool=massif --massif-out-file=/tmp/massif.out" (diagnostics only)
		# shellcheck disable=SC2086
		env "${denv[@]}" ${BENCH_DAEMON_WRAP:-} "$BUILD/triaged" -c "$ROOT/deploy/triaged.ini.example" >"$dir/triaged.log" 2>&1 &
		dpid=$!
		PIDS+=("$dpid")
	fi

	if [[ -n $rate ]]; then
		# Produce only once the group is joined (~3 s on the mock), or the
		# first tickets would wait for the join and count as latency.
		for ((i = 0; i < 300; i++)); do
			grep -q 'partitions assigned' "$dir/triaged.log" && break
			kill -0 "$dpid" 2>/dev/null || break
			sleep 0.1
		done
		grep -q 'partitions assigned' "$dir/triaged.log" || status="no assignment"
		now_us
		t_start=$NOW_US
		# paced by the producer itself (--rate: an absolute schedule); the
		# bash loop that fed it before took a quarter of the machine at
		# 1,400/s (its forks and sleeps), competing with the parts
		"$BUILD/triaged-produce" -b "$boot" -t tickets.incoming -f "$SAMPLES" -n "$N" --repeat \
			--id-prefix "$key-" --rate "$rate" 2>"$dir/produce.log" &
		fpid=$!
		PIDS+=("$fpid")
	fi

	# Every poll is a psql process and a PostgreSQL backend: a cost that
	# competes with the parts, so not too often. The figures do not depend on
	# the poll (timestamps come from the rows).
	while [[ $status == ok ]]; do
		# the dashboard's counter of stored results (one row per hour and a few
		# deltas), not count(*): that read every row each time, about 11% of the
		# PostgreSQL CPU the table below reports (issue #15)
		count=$(sql "$db" "SELECT coalesce(sum(tickets), 0) FROM metrics_escalation")
		((count >= N)) && break
		if ! kill -0 "$dpid" 2>/dev/null; then
			local drc="?"
			if [[ -z $perf_pid ]]; then # not ours to reap under perf
				drc=0
				wait "$dpid" || drc=$?
			fi
			status="daemon exited with status $drc before all rows were stored"
		elif ((SECONDS > deadline)); then
			status="timeout ($count/$N)"
		fi
		sleep 0.5
	done

	# Right before stopping: CPU time and peak RSS of the daemon, and what
	# the other parts and the whole machine spent meanwhile.
	cpu_ms="n/a"
	rss_mb="n/a"
	if read -r stat 2>/dev/null <"/proc/$dpid/stat"; then
		read -r -a fields <<<"${stat##*) }"
		ticks=$((fields[11] + fields[12])) # utime, stime: fields 14 and 15 of stat
		cpu_ms=$(printf '%.3f' "$(calc "$ticks * 1000 / $HZ / $N")")
		hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$dpid/status")
		rss_mb=$(printf '%.1f' "$(calc "$hwm_kb / 1024")")
	fi
	NOTES+=("$label CPU ms/ticket: triaged $cpu_ms, postgres $(per_ticket "$(pg_ticks) - $pg0"), fakemodel $(per_ticket "$(ticks_of "$model_pid") - $fm0"), devbroker $(per_ticket "$(ticks_of "$broker_pid") - $br0")${tls_pid:+, nghttpx $(per_ticket "$(ticks_of "$tls_pid" $(pgrep -P "$tls_pid")) - $tls0")}; whole machine $(per_ticket "$(machine_ticks) - $mach0") ($(nproc) cores, everyone)")
	if [[ ${BENCH_PG_STATEMENTS:-0} == 1 ]]; then
		# what the WAL holds, by kind of record (pg_walinspect, PostgreSQL 15's contrib)
		sql postgres "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
		sql postgres "SELECT \"resource_manager/record_type\", count, round(record_size / $N.0, 1) AS rec_per_ticket,
		                     round(fpi_size / $N.0, 1) AS fpi_per_ticket, round(combined_size_percentage::numeric, 1) AS pct
		                FROM pg_get_wal_stats('$wal0', pg_current_wal_flush_lsn(), true)
		               WHERE count > 0 ORDER BY combined_size DESC" >"$dir/wal.txt" || true
		# and by relation (the first block a record names), tables and indexes by name
		sql "$db" "CREATE EXTENSION IF NOT EXISTS pg_walinspect" >/dev/null
		sql "$db" "SELECT coalesce(c.relname, w.rel, '(no block)'), count(*), round(sum(w.record_length) / $N.0, 1) AS bytes_per_ticket
		             FROM (SELECT substring(block_ref FROM 'rel [0-9]+/[0-9]+/([0-9]+)') AS rel, record_length
		                     FROM pg_get_wal_records_info('$wal0', pg_current_wal_flush_lsn())) w
		             LEFT JOIN pg_class c ON c.relfilenode::text = w.rel
		            GROUP BY 1 ORDER BY 3 DESC" >"$dir/wal-relations.txt" || true
	fi
	# WAL written per ticket (the whole cluster: the run's own polls are a few bytes)
	NOTES+=("$label WAL bytes/ticket: $(sql postgres "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0') / $N)")")
	if [[ -n $perf_pid ]]; then
		# perf's child: signal it, then perf writes its data and exits.
		kill -TERM "$dpid" 2>/dev/null || true
		for ((i = 0; i < 600; i++)); do
			kill -0 "$perf_pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$perf_pid" INT 30
		forget_pid "$perf_pid"
		perf report -i "$dir/perf.data" --no-children --stdio -g none --sort dso,symbol 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -40 >"$dir/perf-top.txt" || true
	else
		stop_pid "$dpid" TERM 60
		forget_pid "$dpid"
	fi
	if [[ -n $fpid ]]; then
		stop_pid "$fpid" TERM 10
		forget_pid "$fpid"
	fi

	escalated=$(logfmt_field "$(grep 'msg="final stats"' "$dir/triaged.log" | tail -1 || true)" escalated)
	summary=$(grep 'msg="latency summary"' "$dir/triaged.log" | tail -1 || true)
	p50=$(logfmt_field "$summary" added_p50_ms)
	p99=$(logfmt_field "$summary" added_p99_ms)
	if [[ -n $summary ]]; then
		NOTES+=("$label latency: e2e p50/p99 $(logfmt_field "$summary" e2e_p50_ms)/$(logfmt_field "$summary" e2e_p99_ms) ms, model p50/p99 $(logfmt_field "$summary" model_p50_ms)/$(logfmt_field "$summary" model_p99_ms) ms")
	fi
	states=$(grep 'msg="state latency"' "$dir/triaged.log" | tail -1 || true)
	if [[ -n $states ]]; then
		local st per=""
		for st in claim reserve model backoff flagship_wait store event dlq; do
			[[ $(logfmt_field "$states" "${st}_n") != n/a ]] || continue
			per+=" $st $(logfmt_field "$states" "${st}_p50_ms")/$(logfmt_field "$states" "${st}_p99_ms")"
		done
		NOTES+=("$label time per state p50/p99 ms:$per")
	fi

	IFS='|' read -r rows dist needs_human < <(sql "$db" "
		SELECT count(*), count(DISTINCT t.ticket_id), count(*) FILTER (WHERE tr.status = 'needs_human')
		  FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk")
	dlq=$(sql "$db" "SELECT CASE WHEN to_regclass('dead_letters') IS NULL THEN 0
	                        ELSE (SELECT count(*) FROM dead_letters) END")
	span=$(sql "$db" "SELECT coalesce(extract(epoch FROM max(created_at) - min(created_at)), 0)
	                    FROM triage_results")
	wall=$(sql "$db" "SELECT coalesce(extract(epoch FROM max(created_at)), 0) FROM triage_results")
	wall=$(printf '%.1f' "$(calc "$wall - $t_start / 1000000")")
	if [[ $(calc "$span > 0") == 1 ]]; then
		e2e=$(printf '%.0f' "$(calc "$rows / $span")")
	else
		e2e="n/a"
	fi
	[[ $key == zero ]] && ZERO_RATE=$e2e
	# Escalations never block intake (issue #15.2): when each kind was done, from the start
	local kinds
	kinds=$(sql "$db" "SELECT string_agg(CASE WHEN escalated THEN 'escalated' ELSE 'not escalated' END || ' ' || n ||
	                     ' stored by ' || round(done_s::numeric - $t_start / 1000000.0, 1) || ' s', ', ' ORDER BY escalated)
	                     FROM (SELECT escalated, count(*) n, extract(epoch FROM max(created_at)) done_s
	                             FROM triage_results GROUP BY escalated) k")
	NOTES+=("$label: ${kinds:-no rows}")
	if [[ ${BENCH_PG_STATEMENTS:-0} == 1 ]]; then
		# where PostgreSQL's time went (issue #15): top-level statements by share of
		# their total execution time, then the statements run inside the functions
		sql "$db" "SELECT CASE WHEN s.toplevel THEN 'top' ELSE 'nested' END, s.calls,
		                  round(s.total_exec_time::numeric, 0) AS ms,
		                  round((100 * s.total_exec_time / sum(s.total_exec_time)
		                         OVER (PARTITION BY s.toplevel))::numeric, 1) AS pct,
		                  round((1000 * s.total_exec_time / $N)::numeric, 1) AS us_per_ticket,
		                  left(regexp_replace(s.query, '\s+', ' ', 'g'), 90),
		                  s.plans, round(s.total_plan_time::numeric, 0) AS plan_ms
		             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		            WHERE d.datname = '$db'
		            ORDER BY s.toplevel DESC, s.total_exec_time DESC" >"$dir/statements.txt" || true
		NOTES+=("$label PostgreSQL statements (share of top-level execution time, us/ticket): $(awk -F'|' '$1 == "top" && n < 5 { printf "%s%s%% %sus %s", n ? "; " : "", $4, $5, substr($6, 1, 40); n++ }' "$dir/statements.txt") (all: $dir/statements.txt)")
		# every index of the write path's tables: how often the run read it, and its size
		# (an index nobody reads still costs each insert)
		sql "$db" "SELECT relname, indexrelname, idx_scan, pg_relation_size(indexrelid)
		             FROM pg_stat_user_indexes ORDER BY relname, indexrelname" >"$dir/indexes.txt" || true
		# the average stored width of each column of the write path's tables (what their WAL carries)
		local tbl cols
		for tbl in tickets ticket_revisions triage_results model_calls; do
			cols=$(sql "$db" "SELECT string_agg(format('round(avg(pg_column_size(%I)), 1)', attname), ', ' ORDER BY attnum)
			                    FROM pg_attribute WHERE attrelid = '$tbl'::regclass AND attnum > 0 AND NOT attisdropped")
			paste -d'|' <(sql "$db" "SELECT attname FROM pg_attribute WHERE attrelid = '$tbl'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum") \
				<(sql "$db" "SELECT $cols FROM $tbl" | tr '|' '\n') | sed "s/^/$tbl|/"
		done >"$dir/columns.txt" 2>&1 || true
		NOTES+=("$label indexes never read in the run: $(awk -F'|' '$3 == 0 { printf "%s%s", n++ ? ", " : "", $2 }' "$dir/indexes.txt") (all: $dir/indexes.txt)")
		KEEP_LOGS=1
	fi
	TRIAGED_RATE[$key]=$e2e
	[[ $rows == "$N" && $dist == "$rows" ]] || status="$status; WRONG: rows=$rows distinct=$dist want $N"
	((dlq == 0)) || NOTES+=("$label: $dlq dead letters")
	if [[ $status != ok ]]; then
		NOTES+=("$label: $status (logs: $dir)")
		KEEP_LOGS=1
	fi
	[[ -z $perf_pid ]] || NOTES+=("$label profile: $dir/perf-top.txt (perf report -i $dir/perf.data)")

	ROWS+=("$(printf '%-14s %-8s %-6s %-5s %-14s %-7s %-14s %-12s %-13s %-13s %-12s %s' \
		"$label" "$N" "$rows" "$((rows - dist))" "$e2e" "$wall" "$cpu_ms" "$rss_mb" "$p50" "$p99" "$needs_human" "$escalated")")

	stop_pid "$broker_pid" TERM 5
	forget_pid "$broker_pid"
	stop_pid "$model_pid" TERM 5
	forget_pid "$model_pid"
	sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	say "scenario $label: rows=$rows e2e=$e2e/s wall=${wall}s cpu=${cpu_ms}ms/ticket rss=${rss_mb}MB added p50/p99=$p50/$p99 ms ($status)"
}

# ------------------------------------------------------------------ the Python baseline

# run_python KEY LABEL LATENCY_MS JITTER_MS: deploy/bench/pyworker.py on the same
# parts as run_scenario (a fresh broker, fake model and database, N preloaded
# tickets), its tickets/s from its result rows' timestamps, as for triaged.
run_python() {
	local key=$1 label=$2 latency=$3 jitter=$4
	local dir="$WORK/py-$key" db="bench_py_$key" boot port ppid rc=0 rows dist span rate pg0 wal0
	local conc=${BENCH_PY_CONCURRENCY:-100} batch=${BENCH_PY_BATCH:-200} busy cpu
	say "python baseline $label: $N tickets, concurrency $conc, batch $batch"
	mkdir -p "$dir"
	sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	sql postgres "CREATE DATABASE $db" >/dev/null
	"$BUILD/triaged-devbroker" --topic "tickets.incoming:$PARTITIONS" \
		--bootstrap-file "$dir/bootstrap" >"$dir/broker.out" 2>"$dir/broker.log" &
	PIDS+=("$!")
	local broker_pid=$!
	"$BUILD/triaged-fakemodel" --quiet --port-file "$dir/model.port" "${FM_ANSWER[@]}" \
		--latency-ms "$latency" --jitter-ms "$jitter" 2>"$dir/fakemodel.log" &
	PIDS+=("$!")
	local model_pid=$!
	wait_file "$dir/bootstrap" 20 || die "the dev broker did not start (see $dir/broker.log)"
	wait_file "$dir/model.port" 20 || die "the fake model did not start (see $dir/fakemodel.log)"
	boot=$(head -1 "$dir/bootstrap")
	port=$(head -1 "$dir/model.port")
	"$BUILD/triaged-produce" -b "$boot" -t tickets.incoming -f "$SAMPLES" -n "$N" --repeat \
		--id-prefix "py-$key-" 2>"$dir/produce.log" || die "preloading failed (see $dir/produce.log)"
	busy=$(machine_busy)
	((busy < 10)) || NOTES+=("python $label: the machine was already ${busy}% busy (all cores) before the run")
	pg0=$(pg_ticks)
	wal0=$(sql postgres "SELECT pg_current_wal_insert_lsn()")
	# Debian's python3 (its packages: install-deps.sh --bench), not a pyenv or venv first in PATH
	timeout $((120 + N / 20)) "${BENCH_PYTHON:-/usr/bin/python3}" "$ROOT/deploy/bench/pyworker.py" --bootstrap "$boot" \
		--group "bench-py-$key-$$" --dsn "host=$WORK/pg user=postgres dbname=$db" \
		--model-url "http://127.0.0.1:$port/v1" --prompt "$ROOT/prompts/triage-v1.prompt" \
		-n "$N" --concurrency "$conc" --batch "$batch" >"$dir/pyworker.out" 2>"$dir/pyworker.log" &
	ppid=$!
	PIDS+=("$ppid")
	wait "$ppid" || rc=$?
	forget_pid "$ppid"
	cpu=$(per_ticket "$(pg_ticks) - $pg0")
	IFS='|' read -r rows dist < <(sql "$db" "SELECT count(*), count(DISTINCT ticket_id) FROM py_results" 2>/dev/null || echo "0|0")
	span=$(sql "$db" "SELECT coalesce(extract(epoch FROM max(created_at) - min(created_at)), 0) FROM py_results" 2>/dev/null || echo 0)
	if [[ $(calc "$span > 0") == 1 ]]; then
		rate=$(printf '%.0f' "$(calc "$rows / $span")")
	else
		rate="n/a"
	fi
	PY_RATE[$key]=$rate
	NOTES+=("python $label: rows=$rows distinct=$dist errors=$(sql "$db" "SELECT count(*) FROM py_results WHERE error IS NOT NULL" 2>/dev/null || echo '?') postgres CPU ms/ticket $cpu, WAL bytes/ticket $(sql postgres "SELECT round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$wal0') / $N)"), concurrency $conc, batch $batch$( ((rc == 0)) || printf ', exit status %s (see %s)' "$rc" "$dir/pyworker.log")")
	((rc == 0)) || KEEP_LOGS=1
	stop_pid "$broker_pid" TERM 5
	forget_pid "$broker_pid"
	stop_pid "$model_pid" TERM 5
	forget_pid "$model_pid"
	sql postgres "DROP DATABASE IF EXISTS $db" >/dev/null
	say "python baseline $label: rows=$rows $rate tickets/s"
}

# ------------------------------------------------------------------ the fake model alone

run_model_alone() {
	local dir="$WORK/model" port sys user ticket cats out non2xx pid busy
	say "the fake model alone: wrk, 64 connections, 10 s, 0 ms"
	mkdir -p "$dir"
	busy=$(machine_busy)
	((busy < 10)) || NOTES+=("fake model alone: the machine was already ${busy}% busy (all cores) before the run")
	"$BUILD/triaged-fakemodel" --quiet --port-file "$dir/model.port" 2>"$dir/fakemodel.log" &
	pid=$!
	PIDS+=("$pid")
	wait_file "$dir/model.port" 20 || die "the fake model did not start (see $dir/fakemodel.log)"
	port=$(head -1 "$dir/model.port")

	# A request like the daemon's: the triage prompt's system text, one
	# median-sized sample ticket in the user message, a JSON answer asked for.
	cats="billing, technical, account, shipping, product_question, feature_request, bug_report, complaint, cancellation, security, legal, other"
	sys=$(awk '/^\[system\]$/ { on = 1; next } /^\[user\]$/ { on = 0 } on' prompts/triage-v1.prompt)
	sys=${sys//'{{categories}}'/$cats}
	ticket=$(awk '{ print length($0) "\t" NR }' "$SAMPLES" | sort -n | awk -v m="$((SAMPLE_LINES / 2))" 'NR == m { print $2 }')
	ticket=$(sed -n "${ticket}p" "$SAMPLES")
	user=$'Triage this ticket.\n\n<ticket>\n'"$ticket"$'\n</ticket>'
	printf '{"model":"gpt-4o-mini","temperature":0,"max_tokens":600,"response_format":{"type":"json_object"},"messages":[{"role":"system","content":%s},{"role":"user","content":%s}]}' \
		"$(json_str "$sys")" "$(json_str "$user")" >"$dir/body.json"
	cat >"$dir/post.lua" <<LUA
local f = assert(io.open("$dir/body.json", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()
LUA
	out=$(wrk -t"$(nproc)" -c64 -d10s --latency -s "$dir/post.lua" "http://127.0.0.1:$port/v1/chat/completions" 2>&1) ||
		die "wrk failed: $out"
	printf '%s\n' "$out" >"$dir/wrk.out"
	MODEL_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
	non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
	[[ -z $non2xx ]] || NOTES+=("fake model alone: $non2xx non-2xx answers (see $dir/wrk.out)")
	NOTES+=("fake model alone: latency p50 $(awk '$1 == "50%" { print $2 }' <<<"$out"), p99 $(awk '$1 == "99%" { print $2 }' <<<"$out"); request body $(wc -c <"$dir/body.json") bytes")
	stop_pid "$pid" TERM 5
	forget_pid "$pid"
	say "the fake model alone: ${MODEL_RPS:-n/a} req/s"
}

# ------------------------------------------------------------------ run

say "$N tickets per scenario, $PARTITIONS partitions, work dir $WORK"
want() { [[ $SCENARIO == all || $SCENARIO == "$1" ]]; }

if want zero || { [[ $SCENARIO == half && -z $RATE ]]; }; then
	run_scenario zero "model 0ms" 0 0 ""
	((PYTHON == 0)) || ! want zero || run_python zero "model 0ms" 0 0
fi
if want half; then
	if [[ -z $RATE ]]; then
		[[ $ZERO_RATE =~ ^[0-9]+$ ]] || die "no max throughput measured to halve: give --rate"
		RATE=$((ZERO_RATE / 2))
		((RATE >= 1)) || RATE=1
	fi
	run_scenario half "half $RATE/s" 0 0 "$RATE"
fi
if want slow; then
	# BENCH_SLOW_IN_FLIGHT (default 2048, the target's): to see memory per ticket in flight
	slow_n=${BENCH_SLOW_IN_FLIGHT:-2048}
	run_scenario slow "model 800ms" 800 200 "" \
		TRIAGED_INTAKE_MAX_IN_FLIGHT="$slow_n" TRIAGED_INTAKE_LOW_WATER=$((slow_n * 3 / 4)) \
		TRIAGED_MINI_MAX_CONCURRENCY="$slow_n"
	((PYTHON == 0)) || run_python slow "model 800ms" 800 200
fi
if want model; then
	run_model_alone
fi

# ------------------------------------------------------------------ the table

CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
printf '%-14s %-8s %-6s %-5s %-14s %-7s %-14s %-12s %-13s %-13s %-12s %s\n' \
	scenario tickets rows dups e2e_tickets/s wall_s cpu_ms/ticket peak_rss_MB added_p50_ms added_p99_ms needs_human escalated
for r in "${ROWS[@]}"; do
	printf '%s\n' "$r"
done
if ((${#PY_RATE[@]} > 0)); then
	echo
	printf '%-14s %-16s %-22s %s\n' "model latency" "triaged t/s" "Python worker t/s" ratio
	for k in zero slow; do
		[[ -n ${PY_RATE[$k]:-} ]] || continue
		ratio="n/a"
		if [[ ${TRIAGED_RATE[$k]:-} =~ ^[0-9]+$ && ${PY_RATE[$k]} =~ ^[1-9][0-9]*$ ]]; then
			ratio="$(printf '%.1f' "$(calc "${TRIAGED_RATE[$k]} / ${PY_RATE[$k]}")")x"
		fi
		printf '%-14s %-16s %-22s %s\n' "$([[ $k == zero ]] && echo "0 ms" || echo "800 ms")" \
			"${TRIAGED_RATE[$k]:-n/a}" "${PY_RATE[$k]}" "$ratio"
	done
fi
if [[ -n $MODEL_RPS ]]; then
	printf 'fake model alone: %s req/s (wrk, 64 connections, 0 ms)\n' "$MODEL_RPS"
fi
printf 'machine: %s cores, %s, PostgreSQL %s fsync=%s synchronous_commit=%s (data on %s)\n' \
	"$(nproc)" "${CPU_MODEL:-unknown CPU}" "$PG_VERSION" "$PG_FSYNC" "$PG_SYNC" "$(findmnt -no FSTYPE --target "$WORK" 2>/dev/null || stat -f -c %T "$WORK")"
if ((${#FM_ANSWER[@]} > 0)); then
	printf 'fake model answers: fixed (deploy/bench/fixed-answer.json, --fixed-answer)\n'
else
	printf 'fake model answers: derived from each ticket'"'"'s words (the default)\n'
fi
for r in "${NOTES[@]}"; do
	printf 'note: %s\n' "$r"
done
