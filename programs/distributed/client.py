"""The client: ``python programs/distributed/client.py redis://127.0.0.1:6379/0``.

Has no handler for CountWords, so each command goes to a worker; the workers'
Progress events are printed as they arrive.
"""

import asyncio
import sys

from jobs import CountWords, Progress

from llmgine import MessageBus
from llmgine.distributed import RedisTransport

TEXTS = ["the bus across processes", "commands exactly once", "events to every node"]


async def main(url: str) -> None:
    bus = MessageBus()
    await bus.start()
    bus.register_event_handler(Progress, lambda e: print(f"  {e.worker}: {e.note}"))
    await bus.attach(RedisTransport(url, events=[Progress], command_timeout=30))
    results = await asyncio.gather(*(bus.execute(CountWords(text)) for text in TEXTS))
    for text, result in zip(TEXTS, results, strict=True):
        print(f"{text!r}: {result.result} words" if result.success else f"error: {result.error}")
    await bus.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
