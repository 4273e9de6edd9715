#!/usr/bin/env bash
# demo.sh: the README's demo command. On a fresh Debian 12 machine it installs
# what is missing, builds triaged, starts the embedded defaults (a local
# throwaway PostgreSQL, the dev Kafka broker, the fake model), runs triaged,
# produces the sample tickets (real text, see deploy/samples/README.md) and
# four showcase tickets (deploy/samples/showcase.jsonl: redaction, injection
# attempts, human_only, a legal threat), and shows the triage, a redacted
# draft restored for the agent, the review queue and an approval as the demo
# agent, and the metrics as the demo supervisor. Then the helpdesk round trip
# (issue #12): Zendesk ticket events (HTML bodies, a follow-up, events with
# nothing to triage, broken ones) go to a second triaged started with
# intake.format = zendesk; demo_agent approves one draft as is, edits and
# approves another and corrects the labels of a third through SQL; the
# tickets.reviewed events are read back from the topic; Zendesk events of an
# agent working in the helpdesk (feedback.topic) record the outcomes and gold
# labels of tickets nobody reviewed in SQL; the relay and feedback counters of
# /metrics.
#
#   deploy/demo.sh            run, show, stop everything
#   deploy/demo.sh --keep     leave everything running to explore (stop: deploy/demo.sh --stop)
#   deploy/demo.sh --stop     stop what a --keep run left running
#
# Environment (tests/check_demo.sh): DEMO_DIR (default .demo), DEMO_BUILD (default build),
# DEMO_HTTP_LISTEN / DEMO_HELPDESK_LISTEN (the two daemons' admin ports, default
# 127.0.0.1:8081 / 127.0.0.1:8082; port 0 picks a free one), DEMO_NO_BUILD=1 (the tools are
# built already: no install-deps, no cmake).
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
cd "$ROOT"
DEMO=${DEMO_DIR:-$ROOT/.demo}
BUILD=${DEMO_BUILD:-$ROOT/build}
PGBIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -1)
KEEP=0
HTTP_LISTEN=${DEMO_HTTP_LISTEN:-127.0.0.1:8081} # http.listen's default
HELPDESK_LISTEN=${DEMO_HELPDESK_LISTEN:-127.0.0.1:8082} # the Zendesk daemon's admin port

stop_all() {
	for p in triaged triaged-zendesk fakemodel broker; do
		if [[ -f "$DEMO/$p.pid" ]]; then
			kill "$(cat "$DEMO/$p.pid")" 2>/dev/null || true
			rm -f "$DEMO/$p.pid"
		fi
	done
	if [[ -f "$DEMO/pg/data/postmaster.pid" ]]; then
		as_pg "$PGBIN/pg_ctl" -D "$DEMO/pg/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
}

as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

case "${1:-}" in
--stop)
	stop_all
	echo "demo stopped"
	exit 0
	;;
--keep) KEEP=1 ;;
"") ;;
*)
	echo "usage: $0 [--keep|--stop]" >&2
	exit 2
	;;
esac

if [[ -z "${DEMO_NO_BUILD:-}" ]]; then
	echo "==> installing missing packages (if any)"
	deploy/install-deps.sh
	PGBIN=$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -1)

	echo "==> building"
	cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD" -j2 --target triaged triaged-devbroker triaged-fakemodel triaged-produce >/dev/null
fi

stop_all
rm -rf "$DEMO"
mkdir -p "$DEMO/pg"
if [[ $(id -u) -eq 0 ]]; then
	chown postgres "$DEMO/pg"
	chmod 755 "$DEMO" "$ROOT"
fi

# the round trip's Zendesk events (see below), written while the rest starts
NZ=5 # sample tickets sent as Zendesk events, beside the fixtures
python3 deploy/samples/zendesk.py tickets tests/fixtures/helpdesk/zendesk deploy/samples/tickets.jsonl $NZ \
	>"$DEMO/zendesk-events.jsonl" &
ZGEN_PID=$!

echo "==> starting a local PostgreSQL in $DEMO/pg"
as_pg "$PGBIN/initdb" -D "$DEMO/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$DEMO/pg/data" -l "$DEMO/pg/server.log" -w \
	-o "-c listen_addresses='' -c unix_socket_directories='$DEMO/pg'" start >/dev/null
PSQL=("$PGBIN/psql" -X -q -h "$DEMO/pg" -U postgres)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE triaged" >/dev/null

echo "==> starting the dev Kafka broker and the fake model"
"$BUILD/triaged-devbroker" --topic tickets.incoming:4 --topic tickets.dlq:1 --topic tickets.triaged:1 \
	--topic tickets.reviewed:1 --topic helpdesk.events:1 --topic helpdesk.feedback:1 \
	--topic helpdesk.dlq:1 --bootstrap-file "$DEMO/bootstrap" >"$DEMO/broker.out" 2>"$DEMO/broker.log" &
echo $! >"$DEMO/broker.pid"
"$BUILD/triaged-fakemodel" --port-file "$DEMO/model.port" --latency-ms 40 --jitter-ms 30 \
	--request-log "$DEMO/model-requests.jsonl" 2>"$DEMO/fakemodel.log" &
echo $! >"$DEMO/fakemodel.pid"
for _ in $(seq 100); do [[ -s "$DEMO/bootstrap" && -s "$DEMO/model.port" ]] && break; sleep 0.1; done
BOOT=$(head -1 "$DEMO/bootstrap")
PORT=$(head -1 "$DEMO/model.port")

export TRIAGED_KAFKA_BOOTSTRAP_SERVERS="$BOOT"
export TRIAGED_KAFKA_GROUP_ID=triaged-demo
export TRIAGED_KAFKA_SESSION_TIMEOUT_MS=6000
# the dev broker holds an empty fetch for the whole fetch.wait.max.ms (librdkafka 2.0.2 mock)
export TRIAGED_KAFKA_FETCH_WAIT_MAX_MS=10
export TRIAGED_POSTGRES_CONNINFO="host=$DEMO/pg user=postgres dbname=triaged"
export TRIAGED_MINI_BASE_URL="http://127.0.0.1:$PORT/v1"
export TRIAGED_FLAGSHIP_BASE_URL="http://127.0.0.1:$PORT/v1"
export TRIAGED_SCHEMA_DIR="$ROOT/schema"
export TRIAGED_HTTP_LISTEN=$HTTP_LISTEN

echo "==> migrating the database and starting triaged"
"$BUILD/triaged" migrate
"$BUILD/triaged" >"$DEMO/triaged.log" 2>&1 &
echo $! >"$DEMO/triaged.pid"
# The helpdesk's stream has its own shape (intake.format is per daemon): a second triaged reads
# Zendesk's ticket events from helpdesk.events (its own group and dead-letter topic) and the
# helpdesk's feedback from helpdesk.feedback. One relay sends the review outbox: the first daemon's.
echo "==> starting a second triaged for the Zendesk stream (intake.format = zendesk)"
TRIAGED_INTAKE_FORMAT=zendesk TRIAGED_INTAKE_TOPIC=helpdesk.events \
	TRIAGED_INTAKE_DLQ_TOPIC=helpdesk.dlq TRIAGED_KAFKA_GROUP_ID=triaged-demo-zendesk \
	TRIAGED_FEEDBACK_TOPIC=helpdesk.feedback TRIAGED_REVIEW_EVENTS_TOPIC='' \
	TRIAGED_HTTP_LISTEN=$HELPDESK_LISTEN \
	"$BUILD/triaged" >"$DEMO/triaged-zendesk.log" 2>&1 &
echo $! >"$DEMO/triaged-zendesk.pid"

# host:port of a daemon's admin server, from its "http listening" log line (port 0 = any)
admin_addr() {
	local line
	for _ in $(seq 100); do
		line=$(grep -m1 'msg="http listening"' "$1" 2>/dev/null || true)
		if [[ -n "$line" ]]; then
			echo "127.0.0.1:$(sed -E 's/.* port=([0-9]+).*/\1/' <<<"$line")"
			return
		fi
		sleep 0.1
	done
	echo "$2"
}

# One login per review role of the schema (002_review.sql): the agent works the queue through
# the review functions only, the supervisor reads the views. Trust auth on the demo's socket.
echo "==> creating the logins demo_agent (role triaged_agent) and demo_supervisor (triaged_supervisor)"
"${PSQL[@]}" -d postgres -c "CREATE ROLE demo_agent LOGIN IN ROLE triaged_agent" \
	-c "CREATE ROLE demo_supervisor LOGIN IN ROLE triaged_supervisor" >/dev/null
AGENT=("$PGBIN/psql" -X -q -h "$DEMO/pg" -U demo_agent -d triaged -P pager=off)
HTTP_ADDR=$(admin_addr "$DEMO/triaged.log" "$HTTP_LISTEN")
HELPDESK_ADDR=$(admin_addr "$DEMO/triaged-zendesk.log" "$HELPDESK_LISTEN")
DASHBOARD="http://$HTTP_ADDR/dashboard"
SUPERVISOR=("$PGBIN/psql" -X -q -h "$DEMO/pg" -U demo_supervisor -d triaged -P pager=off)

NS=$(wc -l <deploy/samples/showcase.jsonl)
N=$(($(wc -l <deploy/samples/tickets.jsonl) + NS))
echo "==> producing $N sample tickets ($NS showcase) and 10 malformed messages"
"$BUILD/triaged-produce" -b "$BOOT" -t tickets.incoming -f deploy/samples/showcase.jsonl 2>/dev/null
"$BUILD/triaged-produce" -b "$BOOT" -t tickets.incoming -f deploy/samples/tickets.jsonl 2>/dev/null
"$BUILD/triaged-produce" -b "$BOOT" -t tickets.incoming -f tests/fixtures/bad_messages.jsonl 2>/dev/null

echo -n "==> waiting for the triage"
for _ in $(seq 600); do
	done_n=$("${PSQL[@]}" -d triaged -Atc "SELECT count(*) FROM triage_results")
	[[ "$done_n" -ge "$N" ]] && break
	echo -n "."
	sleep 0.5
done
echo " $done_n/$N triaged"

q() { "${PSQL[@]}" -d triaged -P pager=off -c "$1"; }
echo
echo "===================== triage, by category and urgency ====================="
q "SELECT category, urgency, count(*) AS tickets, round(avg(confidence)::numeric, 2) AS avg_confidence
     FROM triage_results GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 15"
echo "===================== a few triaged tickets ====================="
q "SELECT t.ticket_id, t.customer_tier AS tier, tr.category, tr.sentiment, tr.urgency,
          tr.status, left(tr.summary, 60) AS summary
     FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk ORDER BY t.ticket_id LIMIT 8"
if "${PSQL[@]}" -d triaged -Atc "SELECT to_regclass('agent_review_queue')" | grep -q agent_review_queue; then
	echo "===================== the agent review queue (first 10) ====================="
	q "SELECT queue_position AS pos, ticket_id, urgency, customer_tier AS tier, category,
	          sla_due::timestamp(0) AS sla_due, left(summary, 50) AS summary
	     FROM agent_review_queue ORDER BY queue_position LIMIT 10"
else
	echo "===================== the review queue (first 10) ====================="
	q "SELECT t.ticket_id, tr.urgency, t.customer_tier AS tier, tr.category, tr.status,
	          left(tr.summary, 50) AS summary
	     FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk
	    WHERE tr.status IN ('pending_review', 'needs_human')
	    ORDER BY array_position(ARRAY['critical','high','normal','low'], tr.urgency), t.received_at
	    LIMIT 10"
fi
echo "===================== the showcase tickets (deploy/samples/showcase.jsonl) ====================="
q "SELECT t.ticket_id, tr.status, tr.action, tr.escalated, tr.decided_by,
          coalesce(tr.detector_flags, '-') AS detector_flags, coalesce(tr.matched_rules, '-') AS rules
     FROM triage_results tr JOIN tickets t ON t.id = tr.ticket_pk
    WHERE t.ticket_id LIKE 'show-%' ORDER BY t.ticket_id, tr.revision"
echo "===================== redaction: what the model saw of show-pii ====================="
python3 - "$DEMO/model-requests.jsonl" <<'PY' || true
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r.get("ticket_id") != "show-pii" or r.get("repair"):
        continue
    for m in json.loads(r["body"])["messages"]:
        if m["role"] == "user":
            text = m["content"]
            i = text.find("Hello, I moved")
            print(text[i:i + 300] if i >= 0 else text[-400:])
    break
PY
echo "===================== the same draft, restored, as demo_agent sees it ====================="
"${AGENT[@]}" -c "SELECT ticket_pk, ticket_id, draft_reply, status_reason FROM agent_review_queue WHERE ticket_id = 'show-pii'" -x
echo "===================== the queue, as demo_agent (first 8) ====================="
"${AGENT[@]}" -c "SELECT ticket_pk, queue_position AS pos, ticket_id, urgency, customer_tier AS tier,
                         category, status, left(summary, 40) AS summary
                    FROM agent_review_queue ORDER BY queue_position LIMIT 8"
read -r PK REV < <("${AGENT[@]}" -AtF ' ' -c "SELECT ticket_pk, revision FROM agent_review_queue WHERE ticket_id = 'show-pii'")
if [[ -n "${PK:-}" ]]; then
	echo "===================== an approval, as demo_agent ====================="
	echo "demo_agent> SELECT review_claim($PK); SELECT review_approve($PK, $REV);   -- the revision the agent read"
	"${AGENT[@]}" -c "SELECT review_claim($PK) AS claimed" -c "SELECT review_approve($PK, $REV) AS outcome"
	echo "demo_agent> UPDATE triage_results SET status = 'approved';   -- agents write only through review_*"
	"${AGENT[@]}" -c "UPDATE triage_results SET status = 'approved'" 2>&1 | sed 's/^/  /' || true
	q "SELECT e.action, e.agent, e.db_user, e.detail, r.review_state, left(r.final_reply, 50) AS final_reply
	     FROM review_events e JOIN triage_results r ON r.id = e.result_id
	    WHERE e.ticket_pk = $PK ORDER BY e.id"
fi
echo "===================== safety metrics, as demo_supervisor ====================="
"${SUPERVISOR[@]}" -c "SELECT redacted_email, redacted_phone, redacted_card, injection_flagged, drafts_flagged
                         FROM metrics_safety"
echo "===================== escalation to the flagship model ====================="
q "SELECT count(*) AS tickets,
          count(*) FILTER (WHERE escalated) AS escalated,
          round(100.0 * count(*) FILTER (WHERE escalated) / count(*), 1) AS escalated_pct,
          count(*) FILTER (WHERE action = 'human_only') AS human_only,
          count(*) FILTER (WHERE decided_by = 'flagship') AS decided_by_flagship
     FROM triage_results"
q "SELECT reason, count FROM metrics_escalation_reasons ORDER BY count DESC LIMIT 8"
echo "===================== metrics ====================="
q "SELECT tier, model, count(*) AS calls, sum(prompt_tokens + completion_tokens) AS tokens,
          round(sum(cost_usd), 4) AS cost_usd,
          round(percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms)::numeric, 1) AS p50_ms,
          round(percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)::numeric, 1) AS p95_ms
     FROM model_calls GROUP BY 1, 2 ORDER BY 1 DESC"
q "SELECT tickets, cost_usd, cost_per_1000_tickets_usd FROM metrics_cost_per_ticket"
q "SELECT urgency, open, breached, at_risk FROM metrics_backlog ORDER BY triaged_urgency_rank(urgency) DESC" 2>/dev/null || true
echo "===================== dead letters (tickets.dlq) ====================="
for _ in 1 2 3; do
	dlq=$(kcat -b "$BOOT" -C -t tickets.dlq -o beginning -e -q -f '%h\n' 2>"$DEMO/kcat.err" |
		sed -E 's/^triaged\.error\.code=([^,]*),triaged\.error\.reason=(.*),triaged\.original\.topic=.*$/\1: \2/' |
		sort | uniq -c || true)
	[[ -n "$dlq" ]] && break
	sleep 1
done
echo "${dlq:-(none read; see $DEMO/kcat.err)}"

# ---- the helpdesk round trip (issue #12) ------------------------------------
wait "$ZGEN_PID"
echo
echo "===================== the helpdesk round trip: Zendesk events in ====================="
echo "==> producing $(wc -l <"$DEMO/zendesk-events.jsonl") Zendesk ticket events to helpdesk.events" \
	"(tests/fixtures/helpdesk/zendesk, $NZ sample tickets as HTML e-mails)"
"$BUILD/triaged-produce" -b "$BOOT" -t helpdesk.events -f "$DEMO/zendesk-events.jsonl" --no-key 2>/dev/null
# done when every Zendesk ticket's latest revision has its result (a follow-up makes a revision 2)
ZD_PENDING="SELECT count(*) FROM tickets t WHERE t.source = 'zendesk' AND NOT EXISTS
              (SELECT 1 FROM triage_results tr WHERE tr.ticket_pk = t.id
                  AND tr.revision = (SELECT max(r.revision) FROM ticket_revisions r WHERE r.ticket_pk = t.id))"
for _ in $(seq 120); do
	zd_n=$("${PSQL[@]}" -d triaged -Atc "SELECT count(*) FROM tickets WHERE source = 'zendesk'")
	[[ "$zd_n" -ge $((NZ + 3)) && $("${PSQL[@]}" -d triaged -Atc "$ZD_PENDING") -eq 0 ]] && break
	sleep 0.25
done
q "SELECT t.ticket_id, max(tr.revision) AS revisions, min(t.channel) AS channel,
          (array_agg(tr.category ORDER BY tr.revision DESC))[1] AS category,
          (array_agg(tr.status ORDER BY tr.revision DESC))[1] AS status,
          left(min(t.subject), 40) AS subject
     FROM tickets t JOIN triage_results tr ON tr.ticket_pk = t.id
    WHERE t.source = 'zendesk' GROUP BY t.ticket_id ORDER BY t.ticket_id"
echo "Zendesk events with nothing to triage (skipped, offsets advanced) and dead letters (helpdesk.dlq):"
curl -s "http://$HELPDESK_ADDR/metrics" | grep -E '^triaged_(tickets_consumed_total|intake_skipped_total|dlq_total|intake_html_bodies_total)' |
	sed 's/^/  /' || true

# three tickets for demo_agent (SQL), two for the helpdesk (feedback), all with a draft
mapfile -t ZQ < <("${AGENT[@]}" -AtF $'\t' -c "SELECT ticket_pk, revision, ticket_id FROM agent_review_queue
                  WHERE ticket_id ~ '^[0-9]+$' AND draft_reply IS NOT NULL ORDER BY ticket_id LIMIT 5")
if [[ ${#ZQ[@]} -lt 5 ]]; then
	echo "round trip: only ${#ZQ[@]} Zendesk tickets await review with a draft (see $DEMO/triaged-zendesk.log)"
else
	IFS=$'\t' read -r PK1 REV1 TID1 <<<"${ZQ[0]}"
	IFS=$'\t' read -r PK2 REV2 TID2 <<<"${ZQ[1]}"
	IFS=$'\t' read -r PK3 REV3 TID3 <<<"${ZQ[2]}"
	IFS=$'\t' read -r _ _ TID4 <<<"${ZQ[3]}"
	IFS=$'\t' read -r _ _ TID5 <<<"${ZQ[4]}"
	echo "===================== demo_agent reviews three of them through SQL ====================="
	echo "demo_agent> SELECT review_approve($PK1, $REV1);                                    -- $TID1: the draft as is"
	echo "demo_agent> SELECT review_approve($PK2, $REV2, draft_reply || ' ...');              -- $TID2: edited"
	echo "demo_agent> SELECT review_correct($PK3, $REV3, <another category>, 'high', NULL); -- $TID3: labels"
	"${AGENT[@]}" -v ON_ERROR_STOP=1 <<SQL || echo "(a review action failed: see above)"
SELECT review_claim($PK1) AS claimed, review_approve($PK1, $REV1) AS "$TID1";
SELECT review_claim($PK2) AS claimed,
       review_approve($PK2, $REV2, draft_reply || E'\n\nP.S. We have also added a note to your account, so that you do not have to explain this again.') AS "$TID2"
  FROM agent_review_queue WHERE ticket_pk = $PK2;
SELECT review_claim($PK3) AS claimed,
       review_correct($PK3, $REV3, CASE WHEN category = 'account' THEN 'billing' ELSE 'account' END,
                      'high', NULL) AS "$TID3 fields changed"
  FROM agent_review_queue WHERE ticket_pk = $PK3;
SQL
	for _ in $(seq 40); do
		[[ $("${PSQL[@]}" -d triaged -Atc "SELECT count(*) FROM review_outbox WHERE sent_at IS NULL") -eq 0 ]] && break
		sleep 0.25
	done
	echo "===================== tickets.reviewed, read back from the topic (kcat) ====================="
	for _ in 1 2 3; do
		kcat -b "$BOOT" -C -t tickets.reviewed -o beginning -e -q -f '%k\t%s\n' \
			>"$DEMO/reviewed.tsv" 2>"$DEMO/kcat.err" || true
		[[ $(grep -c . "$DEMO/reviewed.tsv") -ge 4 ]] && break
		sleep 1
	done
	# the drafts as the agent sees them, on one line (the plan is one line per event)
	D4="" D5=""
	{
		read -r D4 || true
		read -r D5 || true
	} < <("${AGENT[@]}" -At -c "SELECT regexp_replace(draft_reply, '\s+', ' ', 'g') FROM agent_review_queue
	                            WHERE ticket_id IN ('$TID4', '$TID5') ORDER BY ticket_id")
	{
		printf '%s\treply\t%s\n' "$TID4" "$D4"
		printf '%s\tagain\n' "$TID4"
		printf '%s\tstatus\tSOLVED\n' "$TID4"
		printf '%s\tpriority\tURGENT\n' "$TID5"
		printf '%s\tcategory\tshipping\n' "$TID5"
		printf '%s\treply\t%s\n' "$TID5" "$D5 Your replacement ships today."
	} | python3 deploy/samples/zendesk.py feedback --reviewed "$DEMO/reviewed.tsv" -o "$DEMO/feedback-events.jsonl"
	echo "===================== the helpdesk's feedback (Zendesk events on helpdesk.feedback) ====================="
	echo "  $TID4: an agent sends the draft as is from Zendesk, the event is redelivered; the ticket is solved"
	echo "  $TID5: an agent sets the priority to Urgent and the tag category:shipping, then sends an edited draft"
	"$BUILD/triaged-produce" -b "$BOOT" -t helpdesk.feedback -f "$DEMO/feedback-events.jsonl" 2>/dev/null
	for _ in $(seq 80); do
		[[ $("${PSQL[@]}" -d triaged -Atc "SELECT count(*) FROM feedback_events") -ge 4 ]] && break
		sleep 0.25
	done
	q "SELECT f.event_id, t.ticket_id, f.kind, f.outcome, coalesce(f.detail->>'edit_distance', '-') AS edit_distance
	     FROM feedback_events f LEFT JOIN tickets t ON t.id = f.ticket_pk ORDER BY f.received_at, f.event_id"
	echo "===================== gold labels and review outcomes of the Zendesk tickets ====================="
	q "SELECT t.ticket_id, e.model_category, e.category AS gold_category, e.model_urgency,
	          e.urgency AS gold_urgency, e.review_outcome, e.reviewed_by,
	          CASE WHEN ev.via = 'helpdesk' THEN 'helpdesk' WHEN ev.via IS NOT NULL THEN 'sql' ELSE '-' END AS via
	     FROM tickets t JOIN triage_effective e ON e.ticket_pk = t.id
	     LEFT JOIN LATERAL (SELECT coalesce(re.detail->>'via', 'sql') AS via FROM review_events re
	                         WHERE re.ticket_pk = t.id AND re.action <> 'claim' ORDER BY re.id DESC LIMIT 1) ev ON true
	    WHERE t.ticket_id IN ('$TID1', '$TID2', '$TID3', '$TID4', '$TID5')
	      AND e.revision = (SELECT max(revision) FROM triage_results x WHERE x.ticket_pk = t.id)
	    ORDER BY t.ticket_id"
	"${SUPERVISOR[@]}" -c "SELECT reviewed, accepted, edited, rejected, acceptance_rate, approval_rate
	                         FROM metrics_review_outcomes WHERE dimension = 'all'"
fi
echo "===================== the round trip's counters on /metrics ====================="
curl -s "http://$HTTP_ADDR/metrics" | grep -E '^triaged_outbox_' | sed 's/^/  /' || true
for _ in $(seq 20); do
	fbm=$(curl -s "http://$HELPDESK_ADDR/metrics" | grep -E '^triaged_feedback_' || true)
	grep -q '^triaged_feedback_consumed_total 6$' <<<"$fbm" && break
	sleep 0.25
done
while IFS= read -r line; do echo "  $line"; done <<<"${fbm:-(the feedback counters not read)}"

if [[ $KEEP -eq 1 ]]; then
	cat <<MSG

Everything is still running:
  dashboard:   $DASHBOARD   (metrics: http://$HTTP_ADDR/metrics)
  zendesk:     the second triaged (intake.format = zendesk): http://$HELPDESK_ADDR/metrics
  psql:        ${AGENT[*]}        (the agent)
               ${SUPERVISOR[*]}   (the supervisor)
               ${PSQL[*]} -d triaged   (superuser)
  kafka:       kcat -b $BOOT -L        (topics tickets.incoming, tickets.triaged, tickets.dlq,
                                        tickets.reviewed, helpdesk.events, helpdesk.feedback, helpdesk.dlq)
               kcat -b $BOOT -C -t tickets.reviewed -o beginning -e   (the agents' decisions)
               kcat -b $BOOT -C -t tickets.triaged -o beginning -e   (the triage events)
  fake model:  curl -s http://127.0.0.1:$PORT/_stats
  logs:        $DEMO/*.log
Stop it with: deploy/demo.sh --stop
MSG
	exit 0
fi
echo
echo "The supervisor dashboard is at $DASHBOARD while triaged runs: deploy/demo.sh --keep keeps it."
kill -TERM "$(cat "$DEMO/triaged.pid")" "$(cat "$DEMO/triaged-zendesk.pid")"
for _ in $(seq 100); do
	kill -0 "$(cat "$DEMO/triaged.pid")" 2>/dev/null || kill -0 "$(cat "$DEMO/triaged-zendesk.pid")" 2>/dev/null || break
	sleep 0.1
done
grep -E 'final stats' "$DEMO/triaged.log" | sed 's/^/triaged: /' || true
grep -E 'final stats' "$DEMO/triaged-zendesk.log" | sed 's/^/triaged (zendesk): /' || true
stop_all
echo "demo done (logs in $DEMO)"
