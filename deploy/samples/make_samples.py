#!/usr/bin/env python3
"""Build deploy/samples/tickets.jsonl: ~200 demo tickets made of real public text.

Sources (see README.md beside this script for attribution and licenses):
  BANKING77 test split     short online-banking queries       (CC BY 4.0)
  CFPB complaint sample     long consumer complaint narratives (US public open data)
  CLINC150 oos_test         out-of-scope assistant queries     (CC BY 3.0)

Ticket text is copied unchanged (CFPB narratives cut at a word boundary at
4000 characters). Everything around it (ids, customers, channels, times) is
synthetic and deterministic: the same data gives the same file, byte for byte.

Usage: make_samples.py [--data DIR] [--out FILE]
Stdlib only.
"""
import argparse
import csv
import datetime
import json
import os
import random
import re
import sys

SEED = 20261124
N_BANKING = 120
N_CFPB = 65  # includes N_URGENT
N_URGENT = 8
N_OOS = 15
N_CUSTOMERS = 60
BODY_CAP = 4000
BASE_TIME = datetime.datetime(2026, 11, 16, 8, 0, 0, tzinfo=datetime.timezone.utc)

CHANNELS = ["email", "chat", "web", "phone", "social", "api"]
# Short queries arrive in chat and apps; long narratives by email and web forms.
CHANNEL_WEIGHTS = {
    "banking77": [15, 35, 15, 10, 15, 10],
    "cfpb": [45, 5, 40, 5, 2, 3],
    "clinc150": [10, 40, 15, 10, 15, 10],
}
TIERS = ["free", "standard", "premium", "enterprise"]
TIER_WEIGHTS = [40, 35, 18, 7]

# Signals of an angry or urgent complaint. A heuristic for picking rows, not a label.
URGENT_WORDS = re.compile(
    r"\b(urgent(ly)?|immediately|asap|emergency|furious|outraged|angry|unacceptable|"
    r"ridiculous|disgusted|fed up|harass\w*|threat\w*|foreclos\w*|evict\w*|lawsuit|"
    r"attorney|lawyer|desperate|frustrat\w*|nightmare|stolen|fraud\w*)\b",
    re.IGNORECASE,
)


def humanise(label):
    s = label.replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def first_words(text, n=8):
    words = text.split()
    s = " ".join(words[:n])
    if len(words) > n:
        s += " ..."
    return s[:1].upper() + s[1:]


def cap_body(text):
    """Cut at the last whitespace before BODY_CAP characters. Returns (text, truncated)."""
    if len(text) <= BODY_CAP:
        return text, False
    cut = text.rfind(" ", 0, BODY_CAP)
    if cut < BODY_CAP // 2:
        cut = BODY_CAP
    return text[:cut].rstrip(), True


def urgency_score(text):
    """Anger/urgency signals per length, so long narratives do not win by size alone."""
    words = len(URGENT_WORDS.findall(text))
    bangs = min(text.count("!"), 10)
    shouting = sum(1 for w in re.findall(r"\b[A-Z]{4,}\b", text) if w != "XXXX")
    return (words * 2 + bangs + min(shouting, 10)) / (1 + len(text) / 1500)


def load_banking(data, rng):
    with open(os.path.join(data, "banking77", "test.csv"), newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["text"].strip()]
    by_label = {}
    for r in rows:
        by_label.setdefault(r["category"], []).append(r)
    labels = sorted(by_label)
    rng.shuffle(labels)
    out = []
    # Round-robin over intents so the sample covers as many of the 77 as it can.
    while len(out) < N_BANKING:
        for lab in labels:
            if len(out) == N_BANKING:
                break
            pool = by_label[lab]
            if pool:
                out.append(pool.pop(rng.randrange(len(pool))))
    tickets = []
    for r in out:
        text = r["text"].strip()
        tickets.append({
            "dataset": "banking77",
            "label": r["category"],
            "subject": first_words(text),
            "body": text,
            "extra": {},
        })
    return tickets


def load_cfpb(data, rng):
    path = os.path.join(data, "cfpb", "complaints_sample.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["Consumer complaint narrative"].strip()]
    seen, uniq = set(), []
    for r in rows:
        t = r["Consumer complaint narrative"].strip()
        if t not in seen:
            seen.add(t)
            uniq.append(r)
    # The angriest or most urgent narratives that fit uncut (ties broken by complaint id).
    fits = [r for r in uniq if len(r["Consumer complaint narrative"].strip()) <= BODY_CAP]
    ranked = sorted(fits, key=lambda r: (-urgency_score(r["Consumer complaint narrative"]),
                                         r["Complaint ID"]))
    urgent = ranked[:N_URGENT]
    urgent_ids = {r["Complaint ID"] for r in urgent}
    rest = [r for r in uniq if r["Complaint ID"] not in urgent_ids]
    by_product = {}
    for r in rest:
        by_product.setdefault(r["Product"], []).append(r)
    products = sorted(by_product)
    rng.shuffle(products)
    picked = []
    while len(picked) < N_CFPB - N_URGENT:
        for p in products:
            if len(picked) == N_CFPB - N_URGENT:
                break
            pool = by_product[p]
            if pool:
                picked.append(pool.pop(rng.randrange(len(pool))))
    tickets = []
    for r in urgent + picked:
        body, truncated = cap_body(r["Consumer complaint narrative"].strip())
        extra = {
            "product": r["Product"],
            "sub_product": r["Sub-product"],
            "sub_issue": r["Sub-issue"],
            "complaint_id": r["Complaint ID"],
        }
        if truncated:
            extra["body_truncated_at"] = BODY_CAP
        tickets.append({
            "dataset": "cfpb",
            "label": r["Issue"],
            "subject": r["Issue"],
            "body": body,
            "extra": {k: v for k, v in extra.items() if v != ""},
            "urgent_pick": r["Complaint ID"] in urgent_ids,
        })
    return tickets


def load_clinc(data, rng):
    with open(os.path.join(data, "clinc150", "data_full.json"), encoding="utf-8") as f:
        oos = json.load(f)["oos_test"]
    picks = rng.sample(oos, N_OOS)
    return [{
        "dataset": "clinc150",
        "label": label,
        "subject": first_words(text),
        "body": text,
        "extra": {},
    } for text, label in picks]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/shared/data", help="folder of the public data sets")
    ap.add_argument("--out", default=os.path.join(here, "tickets.jsonl"))
    args = ap.parse_args()

    rng = random.Random(SEED)
    items = load_banking(args.data, rng) + load_cfpb(args.data, rng) + load_clinc(args.data, rng)
    rng.shuffle(items)

    customers = []
    for i in range(1, N_CUSTOMERS + 1):
        customers.append({
            "id": "cust-%03d" % i,
            "email": "customer-%03d@example.com" % i,
            "name": "Customer %03d" % i,
            "tier": rng.choices(TIERS, TIER_WEIGHTS)[0],
        })

    t = BASE_TIME
    lines, urgent = [], []
    for n, it in enumerate(items, 1):
        t += datetime.timedelta(seconds=rng.randrange(60, 45 * 60))
        tid = "demo-%04d" % n
        metadata = {"dataset": it["dataset"], "label": it["label"]}
        metadata.update(it["extra"])
        ticket = {
            "ticket_id": tid,
            "source": "demo",
            "created_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS[it["dataset"]])[0],
            "subject": it["subject"],
            "body": it["body"],
            "customer": dict(rng.choice(customers)),
            "language": "en",
            "tags": [it["label"]],
            "metadata": metadata,
        }
        if it.get("urgent_pick"):
            urgent.append(tid)
        lines.append(json.dumps(ticket, ensure_ascii=False))

    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, args.out)
    counts = {}
    for it in items:
        counts[it["dataset"]] = counts.get(it["dataset"], 0) + 1
    print("wrote %s: %d tickets %s" % (args.out, len(lines),
                                       " ".join("%s=%d" % kv for kv in sorted(counts.items()))))
    print("angry/urgent picks: %s" % " ".join(urgent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
