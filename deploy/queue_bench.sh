#!/bin/sh
# Review queue and dashboard cost against the backlog (#19): a throwaway
# PostgreSQL cluster (initdb + pg_ctl in a temporary directory), a schema
# applied the way `triaged migrate` does, then for each size N: N tickets
# awaiting review inserted with SQL, `review_claim_next()` timed over
# CLAIMS claims (each followed by an approve, in its own transaction), and
# the dashboard's data statements (the ones service/io/http.c runs for
# /dashboard/data.json) timed RUNS times. Prints one table.
#
#   deploy/queue_bench.sh [SCHEMA_DIR]        default: this tree's schema/
#   SIZES="10000 50000 100000" CLAIMS=200 RUNS=20 CALLS=1 PG_BINDIR=... deploy/queue_bench.sh
# CALLS=1 (default) also records each ticket's model calls (1.14 per ticket), as the
# daemon does: the dashboard's latency and cost figures read them.
#
# SCHEMA_DIR may be a schema of an older commit, to compare:
#   git archive db6339f schema | tar -x -C /tmp/before && deploy/queue_bench.sh /tmp/before/schema
# Both layouts are understood: schema/migrations + schema/functions/ORDER,
# and the older flat schema/NNN_*.sql. The dashboard statements are read
# from service/io/dashboard/{data,cost}.sql of this tree (older trees: the C string in
# service/io/http.c; DASH_SQL overrides with a file); with
# HEAD_VIEW=1 the queue part reads agent_review_queue_head instead.
# Needs psql, awk and PostgreSQL server binaries; as root, the cluster runs as
# user postgres (or nobody).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
schema=${1:-$here/schema}
SIZES=${SIZES:-"10000 50000 100000"}
CLAIMS=${CLAIMS:-200}
RUNS=${RUNS:-20}
HEAD_VIEW=${HEAD_VIEW:-0}
CALLS=${CALLS:-1}

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
[ -x "$PG_BINDIR/initdb" ] || { echo "no initdb in PG_BINDIR=$PG_BINDIR" >&2; exit 1; }

tmp=$(mktemp -d /tmp/queue_bench.XXXXXX)
chmod 755 "$tmp"
as_pg=""
if [ "$(id -u)" = 0 ]; then
	u=postgres
	id "$u" >/dev/null 2>&1 || u=nobody
	chown "$u" "$tmp"
	as_pg="runuser -u $u --"
fi
port=$((20000 + $$ % 20000))
cleanup() {
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept: PGHOST=$tmp PGPORT=$port (stop: $as_pg $PG_BINDIR/pg_ctl -D $tmp/data stop)" >&2
		return
	fi
	$as_pg "$PG_BINDIR/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

$as_pg "$PG_BINDIR/initdb" -D "$tmp/data" -U postgres -A trust --no-sync >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; exit 1; }
$as_pg "$PG_BINDIR/pg_ctl" -D "$tmp/data" -l "$tmp/pg.log" -w \
	-o "-k $tmp -p $port -c listen_addresses='' -c fsync=off -c shared_buffers=256MB" \
	start >/dev/null
export PGHOST="$tmp" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export PGOPTIONS="-c client_min_messages=warning"
PSQL="psql -X -q -v ON_ERROR_STOP=1"

# ---- the schema, as `triaged migrate` applies it ----------------------------
apply_schema() {
	db=$1
	$PSQL -d "$db" -c "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,
		name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
	if [ -d "$schema/migrations" ]; then
		for f in "$schema"/migrations/[0-9]*.sql; do
			$PSQL -d "$db" -1 -f "$f" >/dev/null
		done
		files=$(grep -v '^#' "$schema/functions/ORDER" | grep -v '^$' |
			sed "s|^|$schema/functions/|")
		# shellcheck disable=SC2086
		(echo "SET check_function_bodies = off;"; cat $files) |
			$PSQL -d "$db" -1 >/dev/null
	else
		for f in "$schema"/[0-9]*.sql; do
			$PSQL -d "$db" -1 -f "$f" >/dev/null
		done
	fi
}

# ---- the dashboard's statements ---------------------------------------------
if [ -n "${DASH_SQL:-}" ]; then
	cp "$DASH_SQL" "$tmp/dash.sql"
elif [ -f "$here/service/io/dashboard/data.sql" ]; then
	# the admin server's data.json statement (embedded at build time) and its cost panel
	{ cat "$here/service/io/dashboard/data.sql"; echo ';'
	  cat "$here/service/io/dashboard/cost.sql"; echo ';'; } >"$tmp/dash.sql"
else
	# the C string dash_sql[] of http.c, unquoted (statement_timeout left out)
	awk '/^static const char dash_sql\[\] =/ {on = 1; next}
	     on && /^[ \t]*"/ {
		line = $0
		sub(/^[ \t]*"/, "", line); sub(/\\n"[;]?[ \t]*$/, "", line); sub(/"[;]?[ \t]*$/, "", line)
		gsub(/\\"/, "\"", line)
		if (line !~ /statement_timeout/) print line
		if ($0 ~ /;[ \t]*$/) exit
		next }' "$here/service/io/http.c" >"$tmp/dash.sql"
fi
[ -s "$tmp/dash.sql" ] || { echo "no dashboard statements found" >&2; exit 1; }
if [ "$HEAD_VIEW" = 1 ]; then
	sed -i 's/FROM agent_review_queue ORDER BY/FROM agent_review_queue_head ORDER BY/' "$tmp/dash.sql"
fi

# ---- the backlog ------------------------------------------------------------
load() {
	db=$1 n=$2
	$PSQL -d "$db" >/dev/null <<EOF
INSERT INTO tickets (id, source, ticket_id, content_hash, channel, subject, body, customer_tier,
                     received_at)
OVERRIDING SYSTEM VALUE
SELECT g, 'bench', 'b-' || g, '\x00'::bytea, 'email', 'Subject ' || g, 'Body ' || g,
       (ARRAY['enterprise', 'premium', 'standard', 'free', NULL])[1 + g % 5],
       now() - (g % 4320) * interval '1 minute'
  FROM generate_series(1, $n) g;
SELECT setval(pg_get_serial_sequence('tickets', 'id'), $n);
INSERT INTO ticket_revisions (ticket_pk, revision, content_hash, received_at)
SELECT id, 1, '\x00'::bytea, received_at FROM tickets;
INSERT INTO triage_results (ticket_pk, revision, status, category, sentiment, urgency,
                            confidence, summary, draft_reply, decided_by, model, prompt_version,
                            escalated, escalation_reasons)
SELECT id, 1, CASE WHEN id % 10 = 0 THEN 'needs_human' ELSE 'pending_review' END,
       (ARRAY['billing', 'technical', 'account', 'shipping', 'complaint'])[1 + id % 5],
       (ARRAY['negative', 'neutral', 'positive'])[1 + id % 3],
       (ARRAY['low', 'normal', 'high', 'critical'])[1 + id % 4],
       0.8, 'summary', 'Draft reply ' || id,
       CASE WHEN id % 7 = 0 THEN 'flagship' ELSE 'mini' END, 'mini-1', 'triage-v1',
       id % 7 = 0, CASE WHEN id % 7 = 0 THEN 'low confidence; vip' END
  FROM tickets;
EOF
	# the model calls behind them (CALLS=0: none, as before 2026-12-06): one mini call per
	# ticket and a flagship call for the escalated ones, through triaged_record_calls as
	# the daemon records them, 10,000 tickets per statement; the dashboard's latency and
	# cost figures read them
	if [ "$CALLS" = 1 ]; then
		lo=1
		while [ "$lo" -le "$n" ]; do
			$PSQL -d "$db" >/dev/null <<EOF
SELECT count(*) FROM triaged_record_calls((SELECT jsonb_agg(jsonb_build_object(
    'ticket_pk', t.id, 'revision', 1, 'seq', s.seq, 'tier', s.tier, 'purpose', 'triage',
    'model', s.model, 'prompt_version', 'triage-v1', 'outcome', 'ok', 'attempts', 1,
    'prompt_tokens', 500, 'completion_tokens', 120, 'latency_ms', s.ms + t.id % 700,
    'total_ms', s.ms + t.id % 700, 'started_ms', extract(epoch FROM t.received_at) * 1000,
    'finished_ms', extract(epoch FROM t.received_at) * 1000 + s.ms + t.id % 700,
    'answer', '{}'))
  FROM tickets t
  CROSS JOIN LATERAL (SELECT 1 AS seq, 'mini' AS tier, 'gpt-4o-mini' AS model, 300 AS ms
                      UNION ALL
                      SELECT 2, 'flagship', 'gpt-4o', 1500 WHERE t.id % 7 = 0) s
 WHERE t.id BETWEEN $lo AND $lo + 9999));
EOF
			lo=$((lo + 10000))
		done
	fi
	# steady state: the writers fold the counters' deltas every few statements;
	# one bulk insert leaves them all unfolded
	if [ "$($PSQL -d "$db" -At -c "SELECT to_regproc('triaged_stats_compact') IS NOT NULL")" = t ]; then
		$PSQL -d "$db" -c "SELECT triaged_stats_compact()" >/dev/null
	fi
	$PSQL -d "$db" -c "VACUUM ANALYZE" >/dev/null
}

# ---- timing -----------------------------------------------------------------
# psql's \timing lines -> "p50 p99" in ms
pct() {
	grep '^Time:' | awk '{print $2}' | sort -n | awk '
		{v[NR] = $1}
		END {
			if (NR == 0) { print "- -"; exit }
			i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999)
			if (i50 < 1) i50 = 1; if (i99 > NR) i99 = NR
			printf "%.1f %.1f\n", v[i50], v[i99]
		}'
}

claims() {
	db=$1
	if [ "$($PSQL -d "$db" -At -c "SELECT count(*) FROM pg_proc WHERE proname = 'review_approve'
		AND pronargs = 4")" = 1 ]; then
		approve="SELECT review_approve(:pk, (SELECT revision FROM triage_results
			WHERE ticket_pk = :pk ORDER BY revision DESC LIMIT 1), NULL, 'bench');"
	else
		approve="SELECT review_approve(:pk, NULL, 'bench');"
	fi
	i=0
	{
		printf '%s\n' '\timing on'
		while [ $i -lt "$CLAIMS" ]; do
			echo "SELECT review_claim_next('bench') AS pk \\gset"
			printf '%s\n' '\timing off'
			echo "$approve"
			printf '%s\n' '\timing on'
			i=$((i + 1))
		done
	} >"$tmp/claims.sql"
	$PSQL -d "$db" -f "$tmp/claims.sql" | pct
}

dash() {
	db=$1
	# the dashboard's statements as one query string (one round trip, like
	# http.c), RUNS times in one session
	q=$(cat "$tmp/dash.sql")
	set -- -c '\timing on'
	i=0
	while [ $i -lt "$RUNS" ]; do
		set -- "$@" -c "$q"
		i=$((i + 1))
	done
	$PSQL -At -d "$db" "$@" | pct
}

printf '%-8s %12s %12s %12s %12s %10s\n' awaiting claim_p50_ms claim_p99_ms dash_p50_ms \
	dash_p99_ms load_s
for n in $SIZES; do
	db=bench_$n
	$PSQL -c "CREATE DATABASE $db" >/dev/null
	apply_schema "$db"
	t0=$(date +%s)
	load "$db" "$n"
	t1=$(date +%s)
	awaiting=$($PSQL -d "$db" -At -c "SELECT count(*) FROM triage_results
		WHERE status IN ('pending_review', 'needs_human') AND review_state IN ('open', 'claimed')")
	d=$(dash "$db")
	c=$(claims "$db")
	# shellcheck disable=SC2086
	printf '%-8s %12s %12s %12s %12s %10s\n' "$awaiting" $c $d $((t1 - t0))
	[ "${KEEP:-0}" = 1 ] || $PSQL -c "DROP DATABASE $db" >/dev/null
done
