#!/usr/bin/env python3
"""Build labelled eval sets for triaged from the public data in /work/shared/data.

Each output line is one JSON object:
  {"ticket": {...the intake contract, as on tickets.incoming...},
   "gold":   {"category": "...", "urgency": "..." (optional), "reply": "..." (optional)},
   "source": {"dataset": "banking77" | "bitext", "label": "<source intent>"}}

The gold label is never inside "ticket" (no tag, no metadata): tags are rendered
into the prompt, and a model must not be shown the answer.

The mapping of source intents onto triaged's categories, and why, is in
MAPPING.md beside this script; BANKING77_MAP and BITEXT_MAP below are that table.

Sets:
  small  (committed as evalset-small.jsonl): 240 BANKING77 test rows, 60 Bitext rows
  large  (>= 2,000, made on demand):         all 3,080 BANKING77 test rows + 1,000 Bitext rows

Usage: make_evalset.py [--data DIR] [--size small|large] [--out FILE] [--coverage]
Stdlib only. The same input data and size give the same file, byte for byte.
"""
import argparse
import collections
import csv
import datetime
import json
import os
import random
import sys

SEED = 20261313
CATEGORIES = ["billing", "technical", "account", "shipping", "product_question", "feature_request",
              "bug_report", "complaint", "cancellation", "security", "legal", "other"]
SIZES = {"small": (240, 60), "large": (None, 1000)}  # (BANKING77 rows or None = all, Bitext rows)
BASE_TIME = datetime.datetime(2026, 12, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
TIERS = ["free", "standard", "premium", "enterprise"]
TIER_WEIGHTS = [40, 35, 18, 7]
CHANNELS = ["email", "chat", "web", "phone", "social", "api"]
CHANNEL_WEIGHTS = [15, 35, 15, 10, 15, 10]

# BANKING77 intent -> (category, urgency or None). Urgency only where the intent itself
# meets the prompt's definition (prompts/triage-v1.prompt): fraud or money at risk now is
# critical; blocked from paying is high. Everything else carries no urgency label.
BANKING77_MAP = {
    # billing: a fee, a charge, a rate applied to a charge, or getting money back
    "card_payment_fee_charged": ("billing", None),
    "card_payment_wrong_exchange_rate": ("billing", None),
    "cash_withdrawal_charge": ("billing", None),
    "exchange_charge": ("billing", None),
    "extra_charge_on_statement": ("billing", None),
    "top_up_by_bank_transfer_charge": ("billing", None),
    "top_up_by_card_charge": ("billing", None),
    "transfer_fee_charged": ("billing", None),
    "transaction_charged_twice": ("billing", None),
    "wrong_exchange_rate_for_cash_withdrawal": ("billing", None),
    "wrong_amount_of_cash_received": ("billing", None),
    "request_refund": ("billing", None),
    "Refund_not_showing_up": ("billing", None),
    "reverted_card_payment?": ("billing", None),
    "cancel_transfer": ("billing", None),
    # technical: a payment, transfer, top-up or card that does not go through (an operations question)
    "card_not_working": ("technical", "high"),
    "contactless_not_working": ("technical", None),
    "virtual_card_not_working": ("technical", None),
    "declined_card_payment": ("technical", "high"),
    "declined_cash_withdrawal": ("technical", "high"),
    "declined_transfer": ("technical", "high"),
    "failed_transfer": ("technical", None),
    "pending_card_payment": ("technical", None),
    "pending_cash_withdrawal": ("technical", None),
    "pending_top_up": ("technical", None),
    "pending_transfer": ("technical", None),
    "top_up_failed": ("technical", None),
    "top_up_reverted": ("technical", None),
    "transfer_not_received_by_recipient": ("technical", None),
    "card_swallowed": ("technical", "high"),
    "beneficiary_not_allowed": ("technical", None),
    "verify_top_up": ("technical", None),
    "card_linking": ("technical", None),
    "transfer_into_account": ("technical", None),
    "apple_pay_or_google_pay": ("technical", None),
    # bug_report: the customer says the service shows something wrong (a defect, not a rule)
    "balance_not_updated_after_bank_transfer": ("bug_report", None),
    "balance_not_updated_after_cheque_or_cash_deposit": ("bug_report", None),
    # account: access, credentials, identity and personal details
    "activate_my_card": ("account", None),
    "change_pin": ("account", None),
    "passcode_forgotten": ("account", None),
    "pin_blocked": ("account", "high"),
    "edit_personal_details": ("account", None),
    "unable_to_verify_identity": ("account", "high"),
    "verify_my_identity": ("account", None),
    "verify_source_of_funds": ("account", None),
    "why_verify_identity": ("account", None),
    # shipping: a physical card on its way
    "card_arrival": ("shipping", None),
    "card_delivery_estimate": ("shipping", None),
    # product_question: what the product offers, limits, how to get or use a feature
    "exchange_rate": ("product_question", None),
    "fiat_currency_support": ("product_question", None),
    "supported_cards_and_currencies": ("product_question", None),
    "visa_or_mastercard": ("product_question", None),
    "country_support": ("product_question", None),
    "age_limit": ("product_question", None),
    "atm_support": ("product_question", None),
    "card_acceptance": ("product_question", None),
    "disposable_card_limits": ("product_question", None),
    "top_up_limits": ("product_question", None),
    "exchange_via_app": ("product_question", None),
    "automatic_top_up": ("product_question", None),
    "getting_virtual_card": ("product_question", None),
    "get_disposable_virtual_card": ("product_question", None),
    "getting_spare_card": ("product_question", None),
    "order_physical_card": ("product_question", None),
    "get_physical_card": ("product_question", None),
    "card_about_to_expire": ("product_question", None),
    "transfer_timing": ("product_question", None),
    "receiving_money": ("product_question", None),
    "top_up_by_cash_or_cheque": ("product_question", None),
    "topping_up_by_card": ("product_question", None),
    # cancellation: leaving the service
    "terminate_account": ("cancellation", None),
    # security: fraud, theft, a payment the customer did not make
    "compromised_card": ("security", "critical"),
    "lost_or_stolen_card": ("security", "critical"),
    "lost_or_stolen_phone": ("security", "critical"),
    "card_payment_not_recognised": ("security", "critical"),
    "cash_withdrawal_not_recognised": ("security", "critical"),
    "direct_debit_payment_not_recognised": ("security", "critical"),
}

# Bitext intent -> category (Bitext's own 11 categories are in the data; intents are finer).
BITEXT_MAP = {
    "cancel_order": "cancellation",
    "delete_account": "cancellation",
    "check_cancellation_fee": "billing",
    "check_invoice": "billing",
    "get_invoice": "billing",
    "payment_issue": "billing",
    "get_refund": "billing",
    "track_refund": "billing",
    "check_refund_policy": "billing",
    "check_payment_methods": "product_question",
    "place_order": "product_question",
    "change_order": "shipping",
    "track_order": "shipping",
    "delivery_period": "shipping",
    "delivery_options": "shipping",
    "change_shipping_address": "shipping",
    "set_up_shipping_address": "shipping",
    "create_account": "account",
    "edit_account": "account",
    "switch_account": "account",
    "recover_password": "account",
    "registration_problems": "bug_report",
    "complaint": "complaint",
    "review": "feature_request",
    "newsletter_subscription": "other",
    "contact_human_agent": "other",
    "contact_customer_service": "other",
}


def first_words(text, n=8):
    words = text.split()
    s = " ".join(words[:n])
    if len(words) > n:
        s += " ..."
    return s[:1].upper() + s[1:]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def stratified(rows, key, n, rng):
    """n rows (all if n is None), round-robin over key values so every label is represented."""
    if n is None or n >= len(rows):
        out = list(rows)
        rng.shuffle(out)
        return out
    by = collections.defaultdict(list)
    for r in rows:
        by[key(r)].append(r)
    labels = sorted(by)
    rng.shuffle(labels)
    for lab in labels:
        rng.shuffle(by[lab])
    out = []
    while len(out) < n:
        for lab in labels:
            if len(out) == n:
                break
            if by[lab]:
                out.append(by[lab].pop())
    return out


def load(data, size, rng):
    nb, nx = SIZES[size]
    bank = [r for r in read_csv(os.path.join(data, "banking77", "test.csv")) if r["text"].strip()]
    bitext = [r for r in read_csv(os.path.join(data, "bitext", "Bitext_Sample_Customer_Support_Training_Dataset.csv"))
              if r["instruction"].strip()]
    for r in bank:
        if r["category"] not in BANKING77_MAP:
            sys.exit("make_evalset: BANKING77 intent %r has no mapping" % r["category"])
    for r in bitext:
        if r["intent"] not in BITEXT_MAP:
            sys.exit("make_evalset: Bitext intent %r has no mapping" % r["intent"])
    items = []
    seen = set()
    for r in stratified(bank, lambda r: r["category"], nb, rng):
        text = r["text"].strip()
        cat, urg = BANKING77_MAP[r["category"]]
        gold = {"category": cat}
        if urg:
            gold["urgency"] = urg
        items.append(("banking77", r["category"], text, gold))
    for r in stratified(bitext, lambda r: r["intent"], nx, rng):
        text = r["instruction"].strip()
        gold = {"category": BITEXT_MAP[r["intent"]], "reply": r["response"].strip()}
        items.append(("bitext", r["intent"], text, gold))
    out = []
    for it in items:
        if it[2] in seen:  # the same text twice would be one cached answer counted twice
            continue
        seen.add(it[2])
        out.append(it)
    rng.shuffle(out)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data")
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--out", help="output file (default: stdout)")
    ap.add_argument("--coverage", action="store_true", help="print how many source intents map to each category")
    a = ap.parse_args()

    if a.coverage:
        cov = collections.OrderedDict((c, [0, 0]) for c in CATEGORIES)
        for cat, _ in BANKING77_MAP.values():
            cov[cat][0] += 1
        for cat in BITEXT_MAP.values():
            cov[cat][1] += 1
        print("%-18s %9s %6s" % ("category", "banking77", "bitext"))
        for c, (b, x) in cov.items():
            print("%-18s %9d %6d" % (c, b, x))
        print("%-18s %9d %6d" % ("total", len(BANKING77_MAP), len(BITEXT_MAP)))
        return 0

    rng = random.Random("%d/%s" % (SEED, a.size))
    items = load(a.data, a.size, rng)
    lines = []
    t = BASE_TIME
    for i, (ds, label, text, gold) in enumerate(items, 1):
        t += datetime.timedelta(seconds=rng.randint(20, 600))
        cust = rng.randint(1, 200)
        ticket = {
            "ticket_id": "eval-%s-%05d" % (a.size, i),
            "source": "eval",
            "created_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            "subject": first_words(text),
            "body": text,
            "customer": {"id": "cust-%03d" % cust, "email": "customer-%03d@example.com" % cust,
                         "name": "Customer %03d" % cust, "tier": rng.choices(TIERS, TIER_WEIGHTS)[0]},
            "language": "en",
        }
        lines.append(json.dumps({"ticket": ticket, "gold": gold, "source": {"dataset": ds, "label": label}},
                                ensure_ascii=False, sort_keys=False))
    body = "\n".join(lines) + "\n"
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(body)
    else:
        sys.stdout.write(body)
    cats = collections.Counter(g["category"] for _, _, _, g in items)
    sys.stderr.write("make_evalset: %d tickets (%s)\n" % (len(items), ", ".join(
        "%s %d" % (c, cats[c]) for c in CATEGORIES if cats[c])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
