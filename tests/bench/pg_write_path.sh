#!/usr/bin/env bash
# pg_write_path.sh: PostgreSQL CPU per ticket of the daemon's write path alone
# (issue #15), without Kafka, the model or the daemon: 20,000 tickets in
# rounds of BATCH (default 200; the daemon's rounds at half rate hold about
# 10) (claim, then calls, then store, each statement its own commit,
# as io/db.c sends them), in one session, on a throwaway cluster; the
# backend's CPU (utime + stime) per ticket. Two schema trees compared
# alternately, RUNS times each (noisy on a shared machine: read the spread).
#
#   tests/bench/pg_write_path.sh TRIAGED_BINARY SCHEMA_DIR_A [SCHEMA_DIR_B] [RUNS]
#
# Since migration 061 the daemon sends calls and results as binary typed rows
# (triaged_record_calls_rows, triaged_store_rows); psql cannot, so this script
# goes through the JSON wrappers triaged_record_calls(jsonb) and
# triaged_store(jsonb): it measures the JSON path, which is now the scripts'
# path, not the daemon's. deploy/bench.sh measures the daemon's.
#
# e.g. against the tree's base commit checked out in another worktree:
#   tests/bench/pg_write_path.sh build/triaged ../base/schema schema 3
set -euo pipefail
BIN=$(readlink -f "$1")
A=$(readlink -f "$2")
B=${3:+$(readlink -f "$3")}
RUNS=${4:-3}
BATCH=${BATCH:-200}
((BATCH >= 1 && 20000 % BATCH == 0)) || { echo 'BATCH must divide 20000' >&2; exit 2; }
# shellcheck source=tests/bench/pg_scratch.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/pg_scratch.sh"
pg_scratch_start pg-write-path
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$WORK" -U postgres "$@"; }

dbs=(a)
[[ -n $B ]] && dbs+=(b)
for d in "${dbs[@]}"; do
	dir=$A
	[[ $d == b ]] && dir=$B
	psql -d postgres -c "CREATE DATABASE $d"
	TRIAGED_POSTGRES_CONNINFO="host=$WORK user=postgres dbname=$d" TRIAGED_SCHEMA_DIR=$dir \
		"$BIN" migrate >/dev/null 2>&1
done

cat >"$WORK/round.sql" <<'SQL'
SELECT count(*) FROM triaged_claim((SELECT jsonb_agg(jsonb_build_object(
    'source', 's', 'ticket_id', 't' || g, 'channel', 'email', 'subject', 'Refund for order ' || g,
    'body', repeat('My order never arrived, please refund. ', 8) || g,
    'customer_tier', (ARRAY['premium', 'standard', 'free'])[1 + g % 3],
    'tags', jsonb_build_array('a', 'b'), 'metadata', '{"x": 1}'::jsonb,
    'kafka_topic', 'k', 'kafka_partition', 0, 'kafka_offset', g))
  FROM generate_series(:b * :n + 1, :b * :n + :n) g)) \gset
SELECT count(*) FROM triaged_record_calls((SELECT jsonb_agg(jsonb_build_object(
    'ticket_pk', id, 'revision', 1, 'seq', 1, 'tier', 'mini', 'purpose', 'triage',
    'model', 'gpt-4o-mini', 'prompt_version', 'v1', 'outcome', 'ok', 'attempts', 1,
    'prompt_tokens', 500, 'completion_tokens', 120, 'latency_ms', 3.0, 'total_ms', 3.0,
    'started_ms', extract(epoch FROM now()) * 1000, 'finished_ms', extract(epoch FROM now()) * 1000,
    'answer', repeat('{"category": "billing"} ', 10)))
  FROM tickets WHERE kafka_offset BETWEEN :b * :n + 1 AND :b * :n + :n)) \gset
SELECT count(*) FROM triaged_store((SELECT jsonb_agg(jsonb_build_object(
    'ticket_pk', id, 'revision', 1, 'status', 'pending_review', 'category', 'billing',
    'sentiment', 'negative', 'urgency', (ARRAY['low', 'normal', 'high', 'critical'])[1 + id % 4],
    'confidence', 0.8, 'language', 'en', 'summary', 'Customer wants a refund',
    'draft_reply', repeat('We are sorry. ', 20), 'decided_by', 'mini', 'model', 'gpt-4o-mini',
    'prompt_version', 'v1', 'action', 'none', 'escalated', false, 'priority', 50))
  FROM tickets WHERE kafka_offset BETWEEN :b * :n + 1 AND :b * :n + :n)) \gset
SQL
{
	echo 'SELECT pg_backend_pid() AS pid \gset'
	echo "\\set n $BATCH"
	for b in $(seq 0 $((20000 / BATCH - 1))); do
		echo "\\set b $b"
		echo "\\i $WORK/round.sql"
	done
	echo '\setenv PGPID :pid'
	# shellcheck disable=SC2016 # psql's shell expands it
	echo '\! cat /proc/$PGPID/stat'
} >"$WORK/run.sql"

hz=$(getconf CLK_TCK)
printf '%-4s %-5s %s\n' run tree pg_backend_cpu_ms/ticket
for r in $(seq 1 "$RUNS"); do
	for d in "${dbs[@]}"; do
		psql -d "$d" -c "TRUNCATE tickets, ticket_revisions, triage_results, model_calls,
		                 ticket_pii, stats_delta, stats_counts CASCADE" 2>/dev/null
		ticks=$(psql -d "$d" -f "$WORK/run.sql" | tail -1 | awk '{print $14 + $15}')
		printf '%-4s %-5s %.3f\n' "$r" "$d" "$(echo "$ticks * 1000 / $hz / 20000" | bc -l)"
	done
done
