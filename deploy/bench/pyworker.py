#!/usr/bin/env python3
"""pyworker: the Python baseline of deploy/bench.sh (issue #15 part 4).

A minimal asyncio worker doing triaged's job on the same parts, the way a
team would write it first: it consumes the intake topic (confluent-kafka),
calls the model with bounded concurrency (aiohttp, one request per ticket,
the same triage prompt), and writes two rows per ticket (the ticket and its
result) in batched durable transactions (psycopg2, PostgreSQL's defaults:
fsync and synchronous_commit on). Kafka offsets are stored only after the
transaction that holds their rows has committed.

What it leaves out on purpose (triaged does it; a baseline does not): the
claim before a paid call, retries, repair of invalid answers, escalation,
redaction, the draft policy, events, dead letters. A ticket whose call fails
is stored with its error, so every ticket gives its two rows.

Not part of the daemon or its tests: run by deploy/bench.sh, which reads
the throughput from the rows' timestamps (as for triaged's rows).

    pyworker.py --bootstrap HOST:PORT --topic T --group G --dsn DSN
                --model-url http://127.0.0.1:PORT/v1 --prompt FILE -n N
                [--concurrency 100] [--batch 200]
"""
import argparse
import asyncio
import json
import sys
import time

import aiohttp
import psycopg2
import psycopg2.extras
from confluent_kafka import Consumer, KafkaError, TopicPartition

CATEGORIES = ("billing, technical, account, shipping, product_question, feature_request, "
              "bug_report, complaint, cancellation, security, legal, other")

SCHEMA = """
CREATE TABLE IF NOT EXISTS py_tickets (
    id bigserial PRIMARY KEY,
    ticket_id text NOT NULL UNIQUE,
    subject text,
    body text NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS py_results (
    ticket_id text PRIMARY KEY REFERENCES py_tickets (ticket_id),
    category text,
    sentiment text,
    urgency text,
    confidence double precision,
    draft_reply text,
    error text,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""


def load_system_prompt(path):
    """The [system] part of a prompt file, with the categories filled in."""
    out, on = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            s = line.rstrip("\n")
            if s == "[system]":
                on = True
                continue
            if s == "[user]":
                break
            if on:
                out.append(s)
    return "\n".join(out).strip().replace("{{categories}}", CATEGORIES)


async def triage(session, url, system, ticket):
    """One model call; (answer dict, None) or (None, error text)."""
    body = {
        "model": "gpt-4o-mini",
        "temperature": 0,
        "max_tokens": 600,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": "Triage this ticket.\n\n<ticket>\n" +
             json.dumps({"subject": ticket.get("subject", ""), "body": ticket.get("body", "")}) +
             "\n</ticket>"},
        ],
    }
    try:
        async with session.post(url, json=body) as r:
            if r.status != 200:
                return None, "http %d" % r.status
            doc = await r.json(content_type=None)
        answer = json.loads(doc["choices"][0]["message"]["content"])
        if not isinstance(answer, dict):
            return None, "answer is not an object"
        return answer, None
    except Exception as e:  # a baseline: any failure is the ticket's error
        return None, "%s: %s" % (type(e).__name__, e)


class Writer:
    """Batches rows; one durable transaction per batch, then the offsets."""

    def __init__(self, dsn, consumer, batch):
        self.conn = psycopg2.connect(dsn)
        with self.conn, self.conn.cursor() as c:
            c.execute(SCHEMA)
        self.consumer = consumer
        self.batch = batch
        self.queue = asyncio.Queue()
        self.stored = 0

    def _write(self, items):
        tickets = [(i["ticket_id"], i["subject"], i["body"], i["received_at"]) for i in items]
        results = [(i["ticket_id"], i["a"].get("category"), i["a"].get("sentiment"),
                    i["a"].get("urgency"), i["a"].get("confidence"), i["a"].get("draft_reply"),
                    i["error"]) for i in items]
        with self.conn, self.conn.cursor() as c:  # commits (durably) at the end of the block
            psycopg2.extras.execute_values(
                c, "INSERT INTO py_tickets (ticket_id, subject, body, received_at) VALUES %s "
                   "ON CONFLICT (ticket_id) DO NOTHING", tickets,
                template="(%s, %s, %s, to_timestamp(%s))", page_size=len(tickets))
            psycopg2.extras.execute_values(
                c, "INSERT INTO py_results (ticket_id, category, sentiment, urgency, confidence, "
                   "draft_reply, error) VALUES %s ON CONFLICT (ticket_id) DO NOTHING", results,
                page_size=len(results))

    async def run(self, want):
        loop = asyncio.get_running_loop()
        while self.stored < want:
            items = [await self.queue.get()]
            while len(items) < self.batch and not self.queue.empty():
                items.append(self.queue.get_nowait())
            await loop.run_in_executor(None, self._write, items)
            # after the commit only: the rows are durable, the offsets may follow
            self.consumer.store_offsets(offsets=[
                TopicPartition(i["topic"], i["partition"], i["offset"] + 1) for i in items])
            self.stored += len(items)


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="tickets.incoming")
    ap.add_argument("--group", default="pyworker")
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--model-url", required=True, help="base URL, e.g. http://127.0.0.1:PORT/v1")
    ap.add_argument("--prompt", required=True, help="the triage prompt file")
    ap.add_argument("-n", type=int, required=True, help="stop after N tickets stored")
    ap.add_argument("--concurrency", type=int, default=100, help="model calls in flight, at most")
    ap.add_argument("--batch", type=int, default=200, help="tickets per transaction, at most")
    args = ap.parse_args()

    system = load_system_prompt(args.prompt)
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,  # stored by the writer, after its commit
        "fetch.wait.max.ms": 10,
    })
    consumer.subscribe([args.topic])
    writer = Writer(args.dsn, consumer, args.batch)
    loop = asyncio.get_running_loop()
    slots = asyncio.Semaphore(args.concurrency)
    url = args.model_url.rstrip("/") + "/chat/completions"
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    t0 = time.time()

    async def handle(session, m):
        try:
            try:
                ticket = json.loads(m.value())
                if not isinstance(ticket, dict):
                    raise ValueError("not an object")
            except ValueError:
                ticket = {"ticket_id": "%s-%d-%d" % (m.topic(), m.partition(), m.offset()),
                          "body": (m.value() or b"").decode("utf-8", "replace")}
            a, err = await triage(session, url, system, ticket)
            await writer.queue.put({
                "ticket_id": str(ticket.get("ticket_id")), "subject": ticket.get("subject"),
                "body": ticket.get("body") or "", "received_at": time.time(), "a": a or {},
                "error": err, "topic": m.topic(), "partition": m.partition(),
                "offset": m.offset()})
        finally:
            slots.release()

    async with aiohttp.ClientSession(connector=connector) as session:
        wtask = asyncio.create_task(writer.run(args.n))
        taken = 0
        while not wtask.done() and taken < args.n:
            msgs = await loop.run_in_executor(None, consumer.consume, 500, 0.1)
            for m in msgs:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        print("pyworker: kafka: %s" % m.error(), file=sys.stderr)
                    continue
                await slots.acquire()  # bounded concurrency: intake waits for a slot
                asyncio.create_task(handle(session, m))
                taken += 1
        await wtask
    consumer.close()  # commits the stored offsets
    print("pyworker: stored=%d seconds=%.1f concurrency=%d batch=%d" %
          (writer.stored, time.time() - t0, args.concurrency, args.batch), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
