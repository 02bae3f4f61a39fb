"""A worker: ``python programs/distributed/worker.py redis://127.0.0.1:6379/0 NAME``.

Handles CountWords on the bus and reports Progress; runs until Ctrl-C (or SIGTERM).
"""

import asyncio
import signal
import sys

from jobs import CountWords, Progress

from llmgine import MessageBus
from llmgine.distributed import RedisTransport


async def main(url: str, name: str) -> None:
    bus = MessageBus()
    await bus.start()

    async def count_words(command: CountWords) -> int:
        await bus.publish(Progress(worker=name, note=f"counting {command.text!r}"))
        return len(command.text.split())

    bus.register_command_handler(CountWords, count_words)
    await bus.attach(RedisTransport(url, node=name, events=[Progress]))
    print(f"{name}: ready", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await bus.stop()  # detaches: running commands finish, the node leaves


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
