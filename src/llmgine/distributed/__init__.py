"""The bus across processes and machines, on Redis Streams (extra ``redis``).

::

    from llmgine.distributed import RedisTransport

    await bus.attach(RedisTransport("redis://127.0.0.1:6379/0", events=[OrderPlaced]))

Importing this package does not import redis-py: the client is loaded when a
transport attaches (and says how to install it when it is missing).
"""

from llmgine.bus.transport import TransportStatusEvent
from llmgine.distributed.keys import Keys
from llmgine.distributed.transport import RedisTransport, masked_url
from llmgine.errors import TransportError

__all__ = ["Keys", "RedisTransport", "TransportError", "TransportStatusEvent", "masked_url"]
