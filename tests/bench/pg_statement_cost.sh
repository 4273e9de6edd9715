#!/usr/bin/env bash
# pg_statement_cost.sh: what one execution of each of the daemon's three hot
# statements costs PostgreSQL at a given batch size (issue #15: at half rate a
# round carries about 10 tickets, and a statement's fixed cost dominates).
# pgbench, one client, prepared statements, synchronous_commit=off (the
# commit's flush is not the statement's), on a throwaway cluster migrated by
# `triaged migrate`; the rows are built in SQL (ROW(...)::type), as the
# daemon's binary arrays arrive typed. Prints pgbench's average latency per
# statement for each batch size; the slope is the cost per element, the
# intercept the fixed cost. Not part of the test run.
#
#   tests/bench/pg_statement_cost.sh TRIAGED_BINARY SCHEMA_DIR [SIZES] [TRANSACTIONS]
#
# SIZES: batch sizes, default "1 10 100"; TRANSACTIONS per size and statement
# (default 2000; a tenth of it for sizes over 10).
#   e.g. tests/bench/pg_statement_cost.sh build/triaged schema "10 100"
set -euo pipefail
BIN=$(readlink -f "$1")
SCHEMA=$(readlink -f "$2")
SIZES=${3:-1 10 100}
TX=${4:-2000}
# shellcheck source=tests/bench/pg_scratch.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/pg_scratch.sh"
pg_scratch_start pg-stmt-cost
"$PGBIN/psql" -X -q -h "$WORK" -U postgres -d postgres -c "CREATE DATABASE s"
TRIAGED_POSTGRES_CONNINFO="host=$WORK user=postgres dbname=s" TRIAGED_SCHEMA_DIR=$SCHEMA \
	"$BIN" migrate >/dev/null 2>&1

# claims of new tickets, then calls and results (ticket ids that need not exist:
# the hot tables have no foreign keys since migration 060)
cat >"$WORK/claim.sql" <<'SQL'
\set s random(1, 2000000000)
SELECT count(*) FROM triaged_claim_rows(ARRAY(SELECT ROW('bench', :s || '-' || g,
    '2026-12-07T06:00:00Z', 'email', 'Refund for order ' || g,
    repeat('My order never arrived, please refund. ', 25) || g, false, 'c1', 'a@b.c', 'Ann',
    'premium', 'en', '["a","b"]'::jsonb, '{"x":1}'::jsonb, NULL, NULL, 'tickets.incoming', 3, g,
    NULL)::triaged_claim_in FROM generate_series(1, :n) g));
SQL
cat >"$WORK/calls.sql" <<'SQL'
\set s random(1, 2000000000)
SELECT count(*) FROM triaged_record_calls_rows2(ARRAY(SELECT ROW(:s, 1, g, 'mini', 'triage',
    'gpt-4o-mini', 'v1', 'ok', NULL, 200, 1, 0, 500, 120, 0, 3.0, 3.0, 1765000000000,
    1765000000300, repeat('x', 400), NULL, NULL, 0, 'openai', 'json_schema', NULL, NULL, NULL,
    NULL, 'req_' || g)::triaged_call_in2 FROM generate_series(1, :n) g));
SQL
# results go to tickets claimed beforehand (as in the daemon: the store finds
# each ticket's tier and receipt time), a fresh slice of them per statement;
# the slice's nextval is in the figure (a few µs)
cat >"$WORK/store.sql" <<'SQL'
SELECT nextval('bench_slice') - 1 AS b \gset
SELECT count(*) FROM triaged_store_rows(ARRAY(SELECT ROW(p.pk, 1, 'pending_review', NULL,
    'billing', 'negative', (ARRAY['low', 'normal', 'high', 'critical'])[1 + p.k % 4], 0.8, 'en',
    'Customer wants a refund', repeat('We are sorry. ', 20), 'mini', 'gpt-4o-mini', 'v1', false,
    'none', false, NULL, NULL, 50, NULL, NULL)::triaged_store_in
    FROM bench_pks p WHERE p.k > (:b)::bigint * (:n)::bigint
    AND p.k <= ((:b)::bigint + 1) * (:n)::bigint));
SQL
"$PGBIN/psql" -X -q -h "$WORK" -U postgres -d s -c "CREATE TABLE bench_pks (k bigint
    GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pk bigint NOT NULL); CREATE SEQUENCE bench_slice"

printf '%-6s %5s %s\n' statement batch ms_per_statement
for n in $SIZES; do
	t=$TX
	((n > 10)) && t=$((TX / 10))
	"$PGBIN/psql" -X -q -h "$WORK" -U postgres -d s -c "TRUNCATE bench_pks RESTART IDENTITY;
	    ALTER SEQUENCE bench_slice RESTART;
	    INSERT INTO bench_pks (pk) SELECT ticket_pk FROM triaged_claim_rows(ARRAY(SELECT
	    ROW('prep', 'p$n-' || g, '2026-12-07T06:00:00Z', 'email', 'Order ' || g,
	    repeat('Where is my order? ', 40), false, NULL, NULL, NULL, 'standard', 'en', 'null',
	    'null', NULL, NULL, 't', 0, g, NULL)::triaged_claim_in
	    FROM generate_series(1, $((t * n))) g)) ORDER BY idx"
	for st in claim calls store; do
		ms=$(PGOPTIONS="-c synchronous_commit=off" "$PGBIN/pgbench" -h "$WORK" -U postgres -n \
			-M prepared -t "$t" -D n="$n" -f "$WORK/$st.sql" s 2>&1 |
			awk '/latency average/ { print $4 }')
		printf '%-6s %5s %s\n' "$st" "$n" "$ms"
	done
done
