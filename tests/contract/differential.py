#!/usr/bin/env python3
"""
differential.py: the published ticket contract against the daemon's parser.

Generates messages from schema/ticket.schema.json (valid tickets, and single
mutations of them covering every property, limit and rule the schema states),
judges each one twice and fails on any disagreement:
  - independently, here: Debian's python3-jsonschema (draft 2020-12) with
    `format` asserted, plus the rules the schema states in words and in its
    x- keywords (byte limits, Unicode blankness, controls, the UTC year range,
    lenient fields, message size, UTF-8, strict JSON, depth, duplicate names);
  - by the daemon: `triaged check-ticket --lines` (the daemon's own intake).
Compared: ticket or dead letter; the dead-letter code; for tickets, the
intake flags, the stored channel and tier, and metadata (exactly, numbers
included).

usage: differential.py --triaged build/triaged [--schema schema/ticket.schema.json] [-v]
Prints "cases=N disagreements=M" and exits 1 if M > 0.
"""
import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
from datetime import date
from decimal import Decimal
from importlib.metadata import version

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:  # a missing validator is a failure, not a skip
    sys.exit("differential: python3-jsonschema is not installed (deploy/install-deps.sh --test)")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# ---- the independent judge -------------------------------------------------------

WHITE_SPACE = set([0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000] +
                  list(range(0x09, 0x0E)) + [0x20] + list(range(0x2000, 0x200B)))


def blank(s):
    """Empty, or only Unicode White_Space, controls (Cc) and format characters (Cf)."""
    return all(ord(c) in WHITE_SPACE or unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp")
               for c in s)


def has_control(s):
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s)


def shown_control(s):
    """Controls the daemon strips from the text shown: all but TAB, LF, CR."""
    return any((ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F for c in s)


RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|([+-])(\d{2}):(\d{2}))$")


def days_in_month(y, m):
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    return [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


def rfc3339(s):
    """(ordinal day, minutes of day local, offset minutes, second) or None."""
    m = RFC3339.match(s)
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h <= 23 and mi <= 59
            and sec <= 60):
        return None
    off = 0
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        off = (oh * 60 + om) * (-1 if m.group(9) == "-" else 1)
    # date.toordinal knows years 1..9999; year 0 is a leap year 1461 days before year 4
    ordinal = date(y, mo, d).toordinal() if y >= 1 else date(4, mo, d).toordinal() - 1461
    if sec == 60 and (h * 60 + mi - off) % 1440 != 23 * 60 + 59:
        return None  # RFC 3339 5.7: a leap second is 23:59:60 UTC
    return ordinal, h * 60 + mi, off, sec


def utc_year(s):
    p = rfc3339(s)
    ordinal, mins, off, _ = p
    total = ordinal * 1440 + mins - off
    day = total // 1440
    if day < 1:
        return 0
    try:
        return date.fromordinal(day).year
    except (ValueError, OverflowError):
        return 10000


formats = FormatChecker()


@formats.checks("date-time")
def _date_time(v):
    return not isinstance(v, str) or rfc3339(v) is not None


def _max_bytes(validator, n, inst, schema):
    if isinstance(inst, str) and len(inst.encode("utf-8")) > n:
        yield jsonschema.ValidationError(f"{len(inst.encode('utf-8'))} bytes > {n}")


def _not_blank(validator, on, inst, schema):
    if on and isinstance(inst, str) and blank(inst):
        yield jsonschema.ValidationError("blank")


def _no_control(validator, on, inst, schema):
    if on and isinstance(inst, str) and has_control(inst):
        yield jsonschema.ValidationError("control character")


def _year_range(validator, rng, inst, schema):
    if isinstance(inst, str) and rfc3339(inst) is not None:
        y = utc_year(inst)
        if not rng[0] <= y <= rng[1]:
            yield jsonschema.ValidationError(f"UTC year {y} outside {rng}")


Validator = jsonschema.validators.extend(Draft202012Validator, {
    "x-maxBytes": _max_bytes, "x-notBlank": _not_blank, "x-noControl": _no_control,
    "x-utcYearRange": _year_range})

CONTRACT_TOP = ["ticket_id", "source", "created_at", "channel", "subject", "body", "customer",
                "language", "tags", "metadata"]
CONTRACT_CUSTOMER = ["id", "email", "name", "tier"]


class Dup(Exception):
    pass


def judge(schema, raw):
    """The contract's answer: ("ticket", flags, channel, tier, metadata) or ("dead", code)."""
    validator = Validator(schema, format_checker=formats)
    if len(raw) > schema["x-messageMaxBytes"]:
        return ("dead", "too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ("dead", "invalid_utf8")
    dups = []

    def pairs(kv):
        names = [k for k, _ in kv]
        keys = set(names)
        # which object this is, is decided by the caller: record every duplicate name
        for k in keys:
            if names.count(k) > 1:
                dups.append((k, frozenset(keys)))
        return dict(kv)

    def bad_constant(c):
        raise ValueError(c)

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=bad_constant,
                         parse_float=Decimal)
    except (ValueError, RecursionError):
        return ("dead", "invalid_json")

    def depth(v):
        if isinstance(v, dict):
            return 1 + max([depth(x) for x in v.values()] + [0])
        if isinstance(v, list):
            return 1 + max([depth(x) for x in v] + [0])
        return 0

    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)

    if depth(doc) > schema["x-maxDepth"]:
        return ("dead", "invalid_json")
    if not isinstance(doc, dict):
        return ("dead", "invalid_json")
    for s in strings(doc):
        if "\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s):
            return ("dead", "invalid_utf8")
    # duplicate contract names: in the top-level object, or in customer
    cust = doc.get("customer")
    for name, keys in dups:
        top = set(doc.keys()) == set(keys)
        in_cust = isinstance(cust, dict) and set(cust.keys()) == set(keys)
        if (top and name in CONTRACT_TOP) or (in_cust and name in CONTRACT_CUSTOMER):
            return ("dead", "invalid_json")
    # null means absent
    clean = {k: v for k, v in doc.items() if v is not None}
    if isinstance(clean.get("customer"), dict):
        clean["customer"] = {k: v for k, v in clean["customer"].items() if v is not None}
    errors = list(validator.iter_errors(_floats(clean)))
    if errors:
        codes = set()
        for e in errors:
            field = e.path[0] if e.path else (e.message.split("'")[1] if e.validator == "required" else "")
            if e.validator == "type":
                codes.add("wrong_type")
            elif e.validator == "required" or (e.validator == "x-notBlank" and field in ("ticket_id", "body")):
                codes.add("missing_field")
            else:
                codes.add("invalid_value")
        # the schema: a blank required value is missing_field, whatever else it breaks
        if "missing_field" in codes:
            codes = {"missing_field"}
        return ("dead", codes.pop() if len(codes) == 1 else "|".join(sorted(codes)))
    # lenient fields: flagged when they do not match x-lenient.known
    flags = set()
    lenient = {"created_at": (clean, schema["properties"]["created_at"]),
               "channel": (clean, schema["properties"]["channel"]),
               "language": (clean, schema["properties"]["language"])}
    c = clean.get("customer") or {}
    lenient["tier"] = (c, schema["properties"]["customer"]["properties"]["tier"])
    values = {}
    for name, (obj, prop) in lenient.items():
        key = name
        if key not in obj:
            continue
        known = dict(prop["x-lenient"]["known"])
        ok = Validator(known, format_checker=formats).is_valid(_floats(obj[key]))
        values[name] = obj[key] if ok else None
        if not ok:
            flags.add(prop["x-lenient"]["flag"])
    for v in [clean.get("subject"), clean.get("body")] + [c.get(k) for k in ("id", "email", "name")]:
        if isinstance(v, str) and shown_control(v):
            flags.add("controls")
    channel = values.get("channel") or "other"
    tier = values.get("tier") or ("standard" if "tier" in c else None)
    return ("ticket", frozenset(flags), channel, tier, clean.get("metadata"))


def _floats(v):
    """jsonschema wants numbers it knows: Decimal becomes float for validation only."""
    if isinstance(v, Decimal):
        return float(v) if v.is_finite() else 0.0
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_floats(x) for x in v]
    return v


# ---- cases from the schema ------------------------------------------------------

BASES = [
    {"ticket_id": "T-1000", "source": "zendesk", "created_at": "2026-11-24T05:40:00Z",
     "channel": "email", "subject": "Refund for order 42", "body": "I was charged twice.",
     "customer": {"id": "C-1", "email": "ana@example.com", "name": "Ana Lima", "tier": "premium"},
     "language": "en", "tags": ["billing"], "metadata": {"order": 42}},
    {"ticket_id": "T-1", "body": "x"},
]

COMMON = [None, 0, -1, 1.5, True, False, [], {}, ["a"], {"a": 1}, "", " ", "   ", "\t", "\t\t",
          "\n", "\u00a0", "\u3000", "\u200b", "\ufeff", "\u2028", "\u2060", "\u00ad",
          " \u00a0\u200b", "a", "x y", "a\u001bb", "\u001b[31mred", "a\u0085b", "a\u007fb",
          "a\tb", "a\nb", "a\u200bb", "caf\u00e9", "\U0001F600", "\u00a0a"]

DATES = ["2026-11-24T05:40:00Z", "2026-11-24t05:40:00z", "2026-11-24T05:40:00.250+01:00",
         "2026-11-24T05:40:00.123456789Z", "2026-11-24T05:40:00." + "1" * 200 + "Z",
         "0000-12-31T23:00:00-01:00", "0000-12-31T23:00:00Z", "0000-01-01T00:00:00Z",
         "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59Z",
         "9999-12-31T23:00:00-01:00", "2026-01-01T10:00:00+16:00", "2026-01-01T10:00:00-23:59",
         "2026-01-01T10:00:00+24:00", "2026-01-01T10:00:00+15:60", "2016-12-31T23:59:60Z",
         "2017-01-01T00:59:60+01:00", "2016-12-31T23:58:60Z", "2026-13-01T00:00:00Z",
         "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
         "2000-02-29T00:00:00Z", "2026-11-24 05:40:00Z", "2026-11-24T05:40:00",
         "2026-11-24T05:40Z", "2026-11-24T24:00:00Z", "2026-11-24T05:40:00.Z",
         "24/11/2026 10:00", "yesterday", "2026-11-24T05:40:00+0100", "+2026-11-24T05:40:00Z"]

ENUMS = {"channel": ["email", "chat", "web", "phone", "social", "api", "other", "Email", "fax",
                     "carrier-pigeon", "none"],
         "tier": ["free", "standard", "premium", "enterprise", "Premium", "none", "pro",
                  "platinum", "gold"]}

LIMITS = {"ticket_id": 256, "source": 256, "subject": 1024, "language": 35, "id": 256,
          "email": 256, "name": 256}


def sized(limit):
    out = []
    for n in (limit - 1, limit, limit + 1):
        out.append("a" * n)
    # bytes, not characters: 2-byte and 3-byte characters around the limit
    for ch, w in (("\u00e9", 2), ("\u20ac", 3)):
        k = limit // w
        out += [ch * k, ch * (k + 1)]
    return out


def set_path(doc, path, value):
    d = copy.deepcopy(doc)
    if len(path) == 2:
        if not isinstance(d.get(path[0]), dict):
            d[path[0]] = {}
        target = d[path[0]]
    else:
        target = d
    if value is ABSENT:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return d


ABSENT = object()


def enc(doc):
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def nested(n, inner="1"):
    return "[" * n + inner + "]" * n


def cases(schema):
    out = []
    for base in BASES:
        out.append(enc(base))
        paths = [(p,) for p in CONTRACT_TOP] + [("customer", p) for p in CONTRACT_CUSTOMER]
        for path in paths:
            name = path[-1]
            vals = [ABSENT] + COMMON
            if name == "created_at":
                vals += DATES
            if name in ENUMS:
                vals += ENUMS[name]
            if name in LIMITS:
                vals += sized(LIMITS[name])
            if name == "tags":
                vals += [["a"] * 64, ["a"] * 65, [1], ["a", None], [["b"]], ["a" * 256],
                         ["a" * 257], ["\u00e9" * 128], ["\u00e9" * 129], [""], ["\u001b"]]
            if name == "metadata":
                vals += [{"x": {"y": [1, 2.5, None, True]}}, {"": 1}, {"a": "\u00e9\n"}]
            for v in vals:
                out.append(enc(set_path(base, path, v)))
        # unknown fields are ignored
        for extra in ({"x": 1}, {"ticket": {"id": 5}}, {"Ticket_ID": ""}, {"customer_tier": 7}):
            d = dict(base)
            d.update(extra)
            out.append(enc(d))
    head = b'{"ticket_id":"T-1","body":"hello"'
    raw = [
        # metadata kept exactly: numbers json-c would clamp or round
        head + b',"metadata":{"big":123456789012345678901234567890,"neg":-99999999999999999999999,'
               b'"tiny":1e-400,"pi":3.141592653589793238462643383279,"e":1E+2,"z":-0.0}}',
        head + b',"metadata":{"a":1,"a":2}}',  # duplicates inside metadata: not contract names
        head + b',"extra":1,"extra":2}',
        # duplicate contract names (I-JSON)
        b'{"ticket_id":"A","body":"b","ticket_id":"B"}',
        head + b',"body":"again"}',
        head + b',"ticket\\u005fid":"T-1"}',
        head + b',"customer":{"tier":"free","tier":"premium"}}',
        head + b',"customer":{"id":"1","email":"a@b","id":"2"}}',
        head + b',"metadata":{},"metadata":{}}',
        head + b',"subject":"a","subject":"a"}',
        # depth: 32 containers with the top-level object, a value inside; then 33
        head + b',"metadata":{"a":' + nested(30).encode() + b'}}',
        head + b',"metadata":{"a":' + nested(31).encode() + b'}}',
        head + b',"metadata":{"a":' + nested(30, "").encode() + b'}}',
        head + b',"metadata":{"a":' + nested(31, "").encode() + b'}}',
        # strict JSON
        head + b',"metadata":{"x":NaN}}', head + b',"metadata":{"x":-Infinity}}',
        head + b',"metadata":{"x":1.}}', head + b',"metadata":{"x":-01}}', head + b',}',
        b"{'ticket_id':\"T-1\",\"body\":\"b\"}", b'\xef\xbb\xbf' + head + b'}',
        head + b'} x', head + b'}{}', b'[1,2]', b'"str"', b'42', b'null', b'', b'{',
        b'{"ticket_id":"T-1","body":"a\tb"}',
        # UTF-8 and NUL
        b'{"ticket_id":"T-1","body":"\xff"}', b'{"ticket_id":"T-1","body":"\xc0\x80"}',
        b'{"ticket_id":"T-1","body":"\xed\xa0\x80"}', b'{"ticket_id":"T-1","body":"\xf4\x90\x80\x80"}',
        b'{"ticket_id":"T-1","body":"a\\u0000b"}', b'{"ticket_id":"T-1","body":"a\\ud800b"}',
        b'{"ticket_id":"T-1","body":"\\ud83d\\ude00"}', head + b',"x\\u0000":1}',
        head + b',"metadata":{"k":[{"\\udc00":1}]}}',
        b'{"ticket_id":"T-1","body":"\\u00e9\\u2028\\t"}',
    ]
    # the message size limit, exactly and one byte over
    limit = schema["x-messageMaxBytes"]
    pad = limit - len(b'{"ticket_id":"T-1","body":""}')
    raw += [b'{"ticket_id":"T-1","body":"' + b"a" * pad + b'"}',
            b'{"ticket_id":"T-1","body":"' + b"a" * (pad + 1) + b'"}']
    out += raw
    return [c for c in out if b"\n" not in c]


def daemon(triaged, msgs):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(b"\n".join(msgs))
        path = f.name
    try:
        p = subprocess.run([triaged, "check-ticket", "--lines", path], capture_output=True)
    finally:
        os.unlink(path)
    if p.returncode not in (0, 1):
        sys.exit(f"differential: check-ticket failed ({p.returncode}): {p.stderr.decode()}")
    lines = p.stdout.decode("utf-8").split("\n")[:-1]
    if len(lines) != len(msgs):
        sys.exit(f"differential: {len(msgs)} messages, {len(lines)} answers")
    out = []
    for line in lines:
        a = json.loads(line, parse_float=Decimal)
        if a["outcome"] == "ticket":
            t = a["ticket"]
            out.append(("ticket", frozenset(t["intake_flags"]), t["channel"], t["customer_tier"],
                        t["metadata"]))
        else:
            out.append(("dead", a.get("code")))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--triaged", required=True)
    ap.add_argument("--schema", default=os.path.join(ROOT, "schema", "ticket.schema.json"))
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    with open(args.schema) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    msgs = cases(schema)
    want = [judge(schema, m) for m in msgs]
    got = daemon(args.triaged, msgs)
    bad = 0
    tally = {"ticket": 0, "dead": 0}
    for m, w, g in zip(msgs, want, got):
        tally[w[0]] += 1
        if w != g:
            bad += 1
            if bad <= 40 or args.v:
                print(f"DISAGREE contract={w[:4]} daemon={g[:4]} msg={m[:160]!r}")
    print(f"cases={len(msgs)} accepted={tally['ticket']} dead_letters={tally['dead']} "
          f"disagreements={bad} (jsonschema {version('jsonschema')})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
