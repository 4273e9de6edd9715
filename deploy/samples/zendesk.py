#!/usr/bin/env python3
"""zendesk.py: the demo's helpdesk side of the round trip (issue #12), in Zendesk's shapes.

  zendesk.py tickets FIXTURES_DIR SAMPLES N   Zendesk ticket events, one JSON per line: the
      fixtures of tests/fixtures/helpdesk/zendesk (tickets, an update, skipped and dead events,
      in an order a helpdesk would send them), then N sample tickets of SAMPLES (the shared
      data, deploy/samples/tickets.jsonl) as zen:event-type:ticket.created with HTML bodies and
      a quoted reply chain (Zendesk ids 7001, 7002, ...; the first N whose body has 40 to
      400 characters).
  zendesk.py feedback [--reviewed KCAT] < PLAN    Zendesk events an agent's work in the helpdesk emits, one per
      line, from PLAN lines "ticket_id<TAB>what<TAB>arg": what = reply (arg: the text sent
      publicly), priority (arg: LOW|NORMAL|HIGH|URGENT), category (arg: a category name, set as
      the tag category:<name>), status (arg: a status; nothing to record, skipped), again (the
      previous event, redelivered byte for byte). With --reviewed, the kcat lines
      "key<TAB>payload" of tickets.reviewed in file KCAT are printed first, as a table, and the
      events go to FILE given by -o (one python start less: the demo stays fast).
"""
import html
import json
import os
import sys

ORDER = [  # the fixtures as Zendesk would send them: a ticket before its updates
    "ticket-created-html.json", "ticket-created-plain.json", "ticket-comment-customer-reply.json",
    "ticket-outlook-reply.json", "skip-agent-assignment-changed.json",
    "skip-comment-by-agent.json", "skip-comment-private.json", "skip-status-changed.json",
    "skip-user-event.json", "dead-created-empty-description.json", "dead-created-no-id.json",
]

QUOTE = ('<div class="gmail_quote"><div class="gmail_attr">On Mon, 16 Nov 2026 at 08:02, '
         'Support &lt;support@example.zendesk.com&gt; wrote:<br></div><blockquote '
         'class="gmail_quote"><p>Thank you for contacting us. Your request has been '
         'received and will be reviewed by our support staff.</p><p>Kind regards,<br>'
         'Support</p></blockquote></div>')


def out(obj):
    print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def tickets(fixtures, samples, n):
    for name in ORDER:
        with open(os.path.join(fixtures, name), encoding="utf-8") as f:
            out(json.load(f))
    with open(samples, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = [t for t in rows if 40 <= len(t["body"]) <= 400]  # short e-mails read best here
    for i, t in enumerate(rows[:n]):
        zid = str(7001 + i)
        paras = "".join("<p>%s</p>" % html.escape(p) for p in t["body"].split("\n") if p.strip())
        out({
            "account_id": 22129848,
            "detail": {
                "actor_id": "9%07d" % i, "created_at": t["created_at"],
                "description": '<div dir="ltr">%s<p>Thanks,<br>%s</p></div>%s'
                               % (paras, "A customer", QUOTE),
                "id": zid, "is_public": True, "priority": "NORMAL",
                "requester_id": "9%07d" % i, "status": "NEW", "subject": t["subject"],
                "tags": [], "type": "QUESTION", "updated_at": t["created_at"],
                "via": {"channel": "web"},
            },
            "event": {},
            "id": "demo-created-%s" % zid,
            "subject": "zen:ticket:%s" % zid,
            "time": t["created_at"],
            "type": "zen:event-type:ticket.created",
            "zendesk_event_version": "2022-11-06",
        })


def feedback(dest):
    prev = None
    for n, line in enumerate(sys.stdin):
        tid, what, arg = (line.rstrip("\n").split("\t") + ["", ""])[:3]
        if what == "again":
            print(prev, file=dest)
            continue
        ev = {"id": "demo-fb-%d" % (n + 1), "subject": "zen:ticket:%s" % tid,
              "time": "2026-11-16T12:00:%02dZ" % n, "zendesk_event_version": "2022-11-06",
              "detail": {"id": tid, "actor_id": "361789"}}
        if what == "reply":
            ev["type"] = "zen:event-type:ticket.comment_added"
            ev["event"] = {"comment": {
                "id": "88%04d" % n, "is_public": True,
                "body": "".join("<p>%s</p>" % html.escape(p) for p in arg.split("\n")),
                "author": {"id": "361789", "is_staff": True, "name": "Ben Agent"}}}
        elif what == "priority":
            ev["type"] = "zen:event-type:ticket.priority_changed"
            ev["event"] = {"current": arg, "previous": "NORMAL"}
        elif what == "category":
            ev["type"] = "zen:event-type:ticket.tags_changed"
            ev["event"] = {"tags_added": ["category:" + arg], "tags_removed": []}
        else:
            ev["type"] = "zen:event-type:ticket.status_changed"
            ev["event"] = {"current": arg, "previous": "OPEN"}
        prev = json.dumps(ev, ensure_ascii=False, separators=(",", ":"))
        print(prev, file=dest)


def reviewed(lines):
    print("%-10s %3s  %-8s %-9s %-11s %-10s %-8s %s" % ("ticket_id", "seq", "action", "outcome",
                                                         "agent", "category", "urgency",
                                                         "reply"))
    for line in lines:
        if not line.strip():
            continue
        key, _, payload = line.rstrip("\n").partition("\t")
        try:
            e = json.loads(payload)
        except ValueError:
            print("%-10s (not JSON: %s)" % (key, payload[:60]))
            continue
        labels = e.get("labels") or {}
        reply = (e.get("reply") or "-").replace("\n", " ")
        print("%-10s %3s  %-8s %-9s %-11s %-10s %-8s %s" % (
            key, e.get("sequence"), e.get("action"), e.get("outcome") or "-", e.get("agent"),
            labels.get("category"), labels.get("urgency"),
            reply[:48] + ("..." if len(reply) > 48 else "")))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "tickets" and len(sys.argv) == 5:
        tickets(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "feedback":
        args = sys.argv[2:]
        dest = sys.stdout
        if "--reviewed" in args:
            with open(args[args.index("--reviewed") + 1], encoding="utf-8") as f:
                reviewed(f)
        if "-o" in args:
            dest = open(args[args.index("-o") + 1], "w", encoding="utf-8")
        feedback(dest)
        dest.close()
    else:
        sys.exit(__doc__)
