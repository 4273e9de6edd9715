#!/usr/bin/env bash
# check_demo.sh BUILD_DIR: runs deploy/demo.sh (the README's first command) in a directory of
# its own with free admin ports, and checks its output: the sample tickets triaged, and the
# helpdesk round trip (issue #12): Zendesk events triaged, skipped and dead-lettered; the three
# SQL review actions read back from tickets.reviewed; the helpdesk's feedback recorded (a
# redelivery changing nothing) and the gold labels it set; the relay's and the feedback
# consumer's counters on /metrics. Exit 0 when every check holds; the failures otherwise.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
BUILD=$(cd "${1:?usage: check_demo.sh BUILD_DIR}" && pwd)
DIR="$BUILD/demo-check"
OUT="$BUILD/demo-check.out"
fail=0

DEMO_DIR="$DIR" DEMO_BUILD="$BUILD" DEMO_NO_BUILD=1 DEMO_HTTP_LISTEN=127.0.0.1:0 \
	DEMO_HELPDESK_LISTEN=127.0.0.1:0 "$ROOT/deploy/demo.sh" >"$OUT" 2>&1
rc=$?
if [[ $rc -ne 0 ]]; then
	echo "check_demo: deploy/demo.sh exited with $rc"
	fail=1
fi

# has REGEX WHAT: the output has a line matching the extended regex REGEX
has() {
	if ! grep -Eq -- "$1" "$OUT"; then
		echo "check_demo: missing $2 (no line matching: $1)"
		fail=1
	fi
}
# count REGEX N WHAT: exactly N lines match
count() {
	local n
	n=$(grep -Ec -- "$1" "$OUT")
	if [[ "$n" -ne "$2" ]]; then
		echo "check_demo: $3: $n lines match '$1', want $2"
		fail=1
	fi
}

has '^==> waiting for the triage\.* 204/204 triaged$' "the 204 sample tickets triaged"
# the Zendesk stream: 16 events, 5 with nothing to triage, 2 dead letters, 8 tickets (one update)
has '^  triaged_tickets_consumed_total 16$' "the 16 Zendesk events consumed"
has '^  triaged_intake_skipped_total\{reason="nothing_to_triage"\} 5$' "5 Zendesk events skipped"
has '^  triaged_dlq_total 2$' "2 Zendesk events dead-lettered"
has '^ 5158 +\| +2 \| email ' "ticket 5158 triaged again after the customer's follow-up (revision 2)"
count '^ (5158|5159|5160|700[1-5]) +\| +[12] \| [a-z_]+ +\| [a-z_]+ +\| (pending_review|needs_human)' 8 \
	"Zendesk tickets awaiting review"
# the three SQL actions, read back from tickets.reviewed (plus the earlier show-pii approval)
has '^show-pii +1  approve  accepted  demo_agent ' "the show-pii approval on tickets.reviewed"
has '^[0-9]+ +1  approve  accepted  demo_agent  [a-z_]+ +[a-z]+ +Hello' "an approval as is on tickets.reviewed"
has '^[0-9]+ +1  approve  edited    demo_agent  ' "an edited approval on tickets.reviewed"
has '^[0-9]+ +1  correct  -         demo_agent  [a-z_]+ +high ' "a label correction on tickets.reviewed"
count '^([0-9]+|show-pii) +[0-9]+  (approve|correct|reject|reassign|release) ' 4 "events on tickets.reviewed"
# the helpdesk's feedback: a reply sent as is, two field changes, an edited reply; the
# redelivered event and the status change record nothing
has '^ demo-fb-1 \| [0-9]+ +\| reply  \| accepted  \| 0$' "the reply sent as is, accepted"
has '^ demo-fb-4 \| [0-9]+ +\| fields \| corrected \|' "the priority change, a correction"
has '^ demo-fb-5 \| [0-9]+ +\| fields \| corrected \|' "the category tag, a correction"
has '^ demo-fb-6 \| [0-9]+ +\| reply  \| edited    \| [1-9]' "the edited reply"
count '^ demo-fb-[0-9]+ \|' 4 "feedback_events rows"
# gold labels: the helpdesk's corrections and outcomes on tickets nobody reviewed in SQL
has '^ [0-9]+ +\| [a-z_]+ +\| shipping +\| [a-z]+ +\| critical +\| edited +\| Ben Agent +\| helpdesk$' \
	"the gold labels set from the helpdesk (shipping, critical) and its edited reply"
has '^ [0-9]+ +\| [a-z_]+ +\| [a-z_]+ +\| [a-z]+ +\| [a-z]+ +\| accepted +\| Ben Agent +\| helpdesk$' \
	"the reply accepted in the helpdesk"
has '^ [0-9]+ +\| [a-z_]+ +\| [a-z_]+ +\| [a-z]+ +\| high +\| +\| +\| sql$' "the SQL correction in the gold labels"
# acceptance over every review, SQL and helpdesk alike: show-pii, 2 in SQL, 2 in the helpdesk
has '^ +5 \| +3 \| +2 \| +0 \| +0\.6000 \| +1\.0000$' "the acceptance row (5 reviewed, 3 accepted, 2 edited)"
# the counters on /metrics
has '^  triaged_outbox_events_sent_total 4$' "4 review events sent"
has '^  triaged_outbox_backlog 0$' "an empty outbox backlog"
has '^  triaged_outbox_errors_total 0$' "no relay errors"
has '^  triaged_feedback_consumed_total 6$' "6 feedback events consumed"
has '^  triaged_feedback_events_total\{outcome="recorded"\} 4$' "4 feedback events recorded"
has '^  triaged_feedback_events_total\{outcome="duplicate"\} 1$' "1 redelivered feedback event"
has '^  triaged_feedback_events_total\{outcome="skipped"\} 1$' "1 feedback event skipped"
has '^demo done' "the demo's end"

if [[ $fail -ne 0 ]]; then
	echo "check_demo: FAILED; the demo's output is in $OUT, its logs in $DIR"
	exit 1
fi
echo "check_demo: the demo and its helpdesk round trip work (output in $OUT)"
