"""A worker node for the tests: ``python dist_worker.py URL NODE NAMESPACE [options]``.

Handles the commands of dist_messages, records what it received in Redis, and
prints ``ready`` once attached. Options: ``--claim-after S``,
``--max-deliveries N``, ``--node-grace S``, ``--session ID`` (SessionOnly's
session), ``--root-session-only`` (SessionOnly in ROOT too), ``--no-commands``,
``--ping`` (execute a Ping, served by another node, before saying ``ready``),
``--sticky`` (Turn in ROOT: the first turn of a session registers a handler in it),
``--max-concurrency N``. Slow records the most it ran at once in ``test:peak:{node}``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from dist_messages import (
    Echo,
    Note,
    Ping,
    Poison,
    SessionOnly,
    Slow,
    Tick,
    Traced,
    TracedEvent,
    Turn,
)

from llmgine import CommandResult, MessageBus
from llmgine.distributed import RedisTransport
from llmgine.distributed.connection import connect


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("node")
    parser.add_argument("namespace")
    parser.add_argument("--claim-after", type=float, default=1.0)
    parser.add_argument("--max-deliveries", type=int, default=5)
    parser.add_argument("--node-grace", type=float, default=3600.0)
    parser.add_argument("--session")
    parser.add_argument("--root-session-only", action="store_true")
    parser.add_argument("--no-commands", action="store_true")
    parser.add_argument("--ping", action="store_true")
    parser.add_argument("--sticky", action="store_true")
    parser.add_argument("--max-concurrency", type=int, default=16)
    args = parser.parse_args()
    record = connect(args.url)  # with the transport's retries: it outlives a Redis restart
    ns = args.namespace
    node = args.node
    bus = MessageBus()
    await bus.start()

    async def echo(cmd: Echo) -> str:
        return f"{cmd.text} from {node}"

    running = [0, 0]  # Slow handlers running now, most at once

    async def slow(cmd: Slow) -> CommandResult:
        running[0] += 1
        running[1] = max(running)
        await record.set(f"{ns}:test:peak:{node}", running[1])
        await record.rpush(f"{ns}:test:started:{cmd.command_id}", node)
        try:
            await asyncio.sleep(cmd.seconds)
        except asyncio.CancelledError:
            await record.rpush(f"{ns}:test:cancelled:{cmd.command_id}", node)
            raise
        finally:
            running[0] -= 1
        await record.rpush(f"{ns}:test:finished:{cmd.command_id}", node)
        return CommandResult(success=True, result={"node": node, "id": cmd.command_id})

    def poison(cmd: Poison) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    async def traced(cmd: Traced) -> str:
        await bus.publish(TracedEvent(session_id=cmd.session_id))
        return node

    async def session_only(cmd: SessionOnly) -> str:
        await record.rpush(f"{ns}:test:started:{cmd.command_id}", node)
        await asyncio.sleep(cmd.seconds)
        await record.rpush(f"{ns}:test:finished:{cmd.command_id}", node)
        return f"session {cmd.session_id} on {node}"

    async def on_event(event: Note | Tick) -> None:
        if isinstance(event, Tick):
            line = f"Tick:{event.event_id}:{event.n}:{time.time()!r}"
        else:
            line = f"Note:{event.event_id}:{event.text}"
        await record.rpush(f"{ns}:test:got:{node}", line)

    async def turn(cmd: Turn) -> str:
        # As `llmgine worker`: the node that answers a session first keeps it.
        if (Turn, cmd.session_id) not in bus.command_routes():
            bus.register_command_handler(Turn, turn, session_id=cmd.session_id)
        return node

    if args.sticky:
        bus.register_command_handler(Turn, turn)
    if not args.no_commands:
        bus.register_command_handler(Echo, echo)
        bus.register_command_handler(Slow, slow)
        bus.register_command_handler(Poison, poison)
        bus.register_command_handler(Traced, traced)
    if args.session:
        bus.register_command_handler(SessionOnly, session_only, session_id=args.session)
    if args.root_session_only:
        bus.register_command_handler(SessionOnly, session_only)
    for kind in (Note, Tick):
        bus.register_event_handler(kind, on_event, session_id="GLOBAL")
    transport = RedisTransport(
        args.url,
        node=node,
        events=[Note, Tick, TracedEvent],
        claim_after=args.claim_after,
        max_deliveries=args.max_deliveries,
        namespace=ns,
        node_grace=args.node_grace,
        max_concurrency=args.max_concurrency,
    )
    await bus.attach(transport)
    if args.ping:
        answer = await bus.execute(Ping())
        if not answer.success:
            sys.exit(f"ping failed: {answer.error}")
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await bus.stop()
    await record.aclose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
