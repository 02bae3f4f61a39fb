"""Redis transport benchmark: LLMgine across processes vs bare redis-py, in one run.

Run with ``.venv/bin/python benchmarks/redis_bench.py`` (needs ``redis-server``
on PATH: ``apt-get install -y redis-server``). It starts its own redis-server
on a free port and its workers as separate processes.

* Command round trip, one at a time: ``await bus.execute(cmd)`` on a client
  node, handled by a worker process (a bus with one command handler), result
  back; against the bare round trip with redis-py in the same run, as the
  issue defines it: the client ``XADD``s a request, then blocks in ``XREAD``
  on a reply stream; the worker blocks in ``XREADGROUP``, then ``XACK``s and
  ``XADD``s the reply (one pipeline). Target: >= 0.7x. A second bare client
  sends its ``XADD`` and ``XREAD`` in one pipeline, as LLMgine's caller sends
  its submit script and read in one write (shown for comparison; the target is
  against the first).
* Event fan-out to 3 worker processes: every node must receive every event;
  the figure is the time until the last node has them all.

The round trips run in alternating rounds after a warm-up (bare, LLMgine, then
the pipelined bare); each ratio is LLMgine's rate over the bare rate of the
round just before it, and the figure is the median of those ratios (the
machine's load drifts; neighbours see the same).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from llmgine import Command, Event, MessageBus
from llmgine.distributed import RedisTransport


class BenchCommand(Command):
    value: int = 0


class BenchEvent(Event):
    value: int = 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    sys.exit("redis-server did not start")


# -- the worker processes ------------------------------------------------------------


async def command_worker(url: str, ns: str) -> None:
    """The LLMgine worker: one command handler, no shared events."""
    bus = MessageBus()
    await bus.start()
    bus.register_command_handler(BenchCommand, lambda cmd: cmd.value)
    await bus.attach(RedisTransport(url, node="cmd-worker", namespace=ns))
    print("ready", flush=True)
    await asyncio.Event().wait()


async def fan_out_worker(url: str, node: str, ns: str, count: int) -> None:
    """A node receiving the shared events; it says in Redis when it has all ``count``."""
    import redis.asyncio as aioredis

    bus = MessageBus()
    await bus.start()
    record = aioredis.Redis.from_url(url, decode_responses=True)
    seen = [0]

    async def on_event(event: BenchEvent) -> None:
        seen[0] += 1
        if seen[0] == count:
            await record.set(f"{ns}:bench:done:{node}", "1")

    bus.register_event_handler(BenchEvent, on_event)
    await bus.attach(RedisTransport(url, node=node, namespace=ns, events=[BenchEvent]))
    print("ready", flush=True)
    await asyncio.Event().wait()


async def bare_worker(url: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(url, decode_responses=True)
    await r.xgroup_create("bare:req", "g", id="0", mkstream=True)
    print("ready", flush=True)
    while True:
        answer = await r.xreadgroup("g", "w", {"bare:req": ">"}, count=1, block=1000)
        for _, entries in answer or []:
            for entry_id, fields in entries:
                pipe = r.pipeline(transaction=False)
                pipe.xack("bare:req", "g", entry_id)
                pipe.xadd("bare:reply", {"id": fields["id"], "result": fields["value"]})
                await pipe.execute()


def spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        sys.exit(f"worker {args} did not start")
    return proc


# -- the client ------------------------------------------------------------------------


class BareClient:
    """The bare round trip: XADD a request, XREAD its reply (or both in one pipeline)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.r = aioredis.Redis.from_url(url, decode_responses=True)
        self.last = "0-0"

    async def start(self) -> None:
        last = await self.r.xrevrange("bare:reply", count=1)
        self.last = last[0][0] if last else "0-0"

    async def round_trips(self, n: int, *, pipelined: bool = False) -> float:
        r = self.r
        start = time.perf_counter()
        for i in range(n):
            value = str(i)
            if pipelined:
                pipe = r.pipeline(transaction=False)
                pipe.xadd("bare:req", {"id": value, "value": value})
                pipe.xread({"bare:reply": self.last}, block=1000)
                answer = (await pipe.execute())[1]
            else:
                await r.xadd("bare:req", {"id": value, "value": value})
                answer = await r.xread({"bare:reply": self.last}, block=1000)
            while True:
                if answer:
                    entries = answer[0][1]
                    self.last = entries[-1][0]
                    if any(fields["id"] == value for _, fields in entries):
                        break
                answer = await r.xread({"bare:reply": self.last}, block=1000)
        return n / (time.perf_counter() - start)


async def llmgine_round_trips(bus: MessageBus, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        result = await bus.execute(BenchCommand(value=i))
        assert result.success and result.result == i, result
    return n / (time.perf_counter() - start)


async def fan_out(bus: MessageBus, url: str, ns: str, nodes: list[str], n: int) -> float:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(url, decode_responses=True)
    start = time.perf_counter()
    for i in range(n):
        bus.publish_nowait(BenchEvent(value=i))
    await bus.wait_for_events()
    while True:  # the nodes report in Redis once they have every event
        if all([await r.exists(f"{ns}:bench:done:{node}") for node in nodes]):
            break
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    await r.aclose()
    return n / elapsed


async def client(url: str, n: int, events: int, rounds: int) -> None:
    ns = "bench"
    nodes = ["fan-1", "fan-2", "fan-3"]
    procs = [spawn("--bare-worker", url), spawn("--command-worker", url, ns)]
    procs += [spawn("--fan-out-worker", url, node, ns, str(events)) for node in nodes]
    bus = MessageBus()
    await bus.start()
    await bus.attach(RedisTransport(url, node="client", namespace=ns, events=[BenchEvent]))
    bare = BareClient(url)
    await bare.start()
    cases: dict[str, Callable[[int], Awaitable[float]]] = {  # in this order, each round
        "bare": bare.round_trips,
        "llmgine": lambda count: llmgine_round_trips(bus, count),
        "piped": lambda count: bare.round_trips(count, pipelined=True),
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for run in cases.values():  # warm-up: connections, scripts, caches
            await run(max(n // 2, 100))
        for _ in range(rounds):  # alternated: a drift of the machine's load hits all alike
            for name, run in cases.items():
                rates[name].append(await run(n))
        fan = await fan_out(bus, url, ns, nodes, events)
    finally:
        await bus.stop()
        for proc in procs:
            proc.kill()
            proc.wait()
    ratios = [llm / b for llm, b in zip(rates["llmgine"], rates["bare"], strict=True)]
    piped_ratios = [p / b for p, b in zip(rates["piped"], rates["bare"], strict=True)]
    to_piped = [llm / p for llm, p in zip(rates["llmgine"], rates["piped"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"Python {sys.version.split()[0]}, redis-server on 127.0.0.1, {os.cpu_count()} cores")
    print(f"{rounds} alternated rounds of {n} round trips each; medians")
    print(f"{'case':58} {'ops/s':>7} {'ratio':>6}  target")
    print(f"{'bare redis-py: XADD, XREAD reply / XREADGROUP, XACK+reply':58} ", end="")
    print(f"{statistics.median(rates['bare']):7,.0f} {1:5.2f}x")
    print(f"{'bare redis-py, client pipelining XADD+XREAD':58} ", end="")
    print(f"{statistics.median(rates['piped']):7,.0f} {statistics.median(piped_ratios):5.2f}x")
    mark = "ok" if ratio >= 0.7 else "MISSED"
    print(f"{'LLMgine command round trip (client->worker->client)':58} ", end="")
    print(f"{statistics.median(rates['llmgine']):7,.0f} {ratio:5.2f}x  >= 0.7x {mark}")
    print(
        f"{'':58} {'':7} {'':6}  rounds {min(ratios):.2f}x-{max(ratios):.2f}x; "
        f"{statistics.median(to_piped):.2f}x the pipelined bare"
    )
    print(
        f"{'event fan-out to 3 nodes (each gets every event)':58} {fan:7,.0f} {'':6}"
        f"  {events} events, {3 * fan:,.0f} deliveries/s"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--command-worker":
        asyncio.run(command_worker(sys.argv[2], sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--fan-out-worker":
        _, _, url, node, ns, count = sys.argv
        asyncio.run(fan_out_worker(url, node, ns, int(count)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-worker":
        asyncio.run(bare_worker(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500, help="round trips per round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--events", type=int, default=5000, help="events fanned out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_proc, url = start_redis(Path(tmp))
        try:
            asyncio.run(client(url, args.n, args.events, args.rounds))
        finally:
            redis_proc.terminate()
            redis_proc.wait()


if __name__ == "__main__":
    main()
