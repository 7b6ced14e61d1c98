"""The Python peer: the design of the common kafka-python tutorial, written for the benchmark.

A kafka-python consumer (auto commit on) hands each message to a ThreadPoolExecutor of 5
workers. When all 5 are busy the message is dropped, as the tutorial does to keep the
consumer from blocking; its offset is still committed by auto commit, so it is lost. Each
handled message sleeps --delay-ms (the simulated I/O).

Reads --topic from the beginning with the fresh --group until --messages were seen, waits
for the workers to finish, and prints one JSON line on stdout:

    {"type":"result","handled":P,"dropped":D,"seen":N,"elapsedMs":T,"joinMs":J}

elapsedMs runs from the partition assignment to the last worker finishing, so the group
join (joinMs) is not counted. Needs Debian's python3-kafka for /usr/bin/python3.
"""

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

try:
    from kafka import KafkaConsumer
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
except ImportError:
    print(
        "kafka-python is missing: install Debian's python3-kafka "
        "(apt-get install python3-kafka) and run with /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(4)

WORKERS = 5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=5)
    parser.add_argument("--timeout-ms", type=float, default=300000)
    args = parser.parse_args()

    started = time.monotonic()
    assigned_at = [None]

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, assigned):
            if assigned and assigned_at[0] is None:
                assigned_at[0] = time.monotonic()

        def on_partitions_revoked(self, revoked):
            pass

    consumer = KafkaConsumer(
        bootstrap_servers=args.brokers.split(","),
        group_id=args.group,
        client_id="bench-python",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    consumer.subscribe([args.topic], listener=Listener())

    executor = ThreadPoolExecutor(max_workers=WORKERS)
    lock = threading.Lock()
    state = {"busy": 0, "handled": 0}
    delay = args.delay_ms / 1000

    def work(_message):
        try:
            time.sleep(delay)
        finally:
            with lock:
                state["busy"] -= 1
                state["handled"] += 1

    seen = 0
    dropped = 0
    deadline = started + args.timeout_ms / 1000
    while seen < args.messages and time.monotonic() < deadline:
        batches = consumer.poll(timeout_ms=100)
        for records in batches.values():
            for message in records:
                if seen >= args.messages:
                    break
                seen += 1
                with lock:
                    full = state["busy"] >= WORKERS
                    if not full:
                        state["busy"] += 1
                if full:
                    dropped += 1
                else:
                    executor.submit(work, message)
    executor.shutdown(wait=True)
    finished = time.monotonic()
    timed_out = seen < args.messages
    start = assigned_at[0] if assigned_at[0] is not None else started
    print(
        json.dumps(
            {
                "type": "result",
                "handled": state["handled"],
                "dropped": dropped,
                "seen": seen,
                "elapsedMs": (finished - start) * 1000,
                "joinMs": (start - started) * 1000,
                "timedOut": timed_out,
            }
        ),
        flush=True,
    )
    consumer.close(autocommit=True)
    sys.exit(3 if timed_out else 0)


if __name__ == "__main__":
    main()
