"""The Redis keys of one namespace (every key LLMgine uses starts with ``{namespace}:``)."""

from __future__ import annotations

__all__ = ["GROUP", "Keys"]

#: The consumer group of every command stream (competing consumers, one per node).
GROUP = "handlers"


class Keys:
    """Key names under a namespace (``llmgine`` by default).

    ========================  ======  ==================================================
    key                       type    what
    ========================  ======  ==================================================
    ``node:{node}``           string  the node's heartbeat (expires unless renewed)
    ``nodes``                 zset    every node and when its heartbeat expires (ms)
    ``types``                 set     every command type a node has served
    ``handlers:{Type}``       set     nodes with a handler for the command type
    ``route:{session}``       hash    command type -> node owning a session's handler
    ``cmd:{Type}``            stream  commands of a type, group ``handlers``
    ``inbox:{node}``          stream  commands for a node's session handlers
    ``reply:{node}``          stream  results for the callers on a node
    ``result:{command_id}``   string  the stored result (idempotency key)
    ``submitted:{id}``        string  a command id is enqueued once (value: stream, entry)
    ``lease:{command_id}``    string  the node running a command (renewed)
    ``events``                stream  shared events; one group per node
    ``schedule``              zset    shared scheduled events by due time
    ``schedule:body``         hash    their bodies
    ``dead``                  stream  dead letters: poison and undecodable records
    ========================  ======  ==================================================
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        prefix = namespace + ":"
        self.prefix = prefix
        self.nodes = prefix + "nodes"
        self.types = prefix + "types"
        self.events = prefix + "events"
        self.schedule = prefix + "schedule"
        self.schedule_body = prefix + "schedule:body"
        self.dead = prefix + "dead"

    def node(self, node: str) -> str:
        """Liveness key of ``node``."""
        return f"{self.prefix}node:{node}"

    def handlers(self, type_name: str) -> str:
        """Set of the nodes serving a command type."""
        return f"{self.prefix}handlers:{type_name}"

    def route(self, session_id: str) -> str:
        """Hash: command type -> the node with a handler in ``session_id``."""
        return f"{self.prefix}route:{session_id}"

    def commands(self, type_name: str) -> str:
        """Stream of the commands of a type."""
        return f"{self.prefix}cmd:{type_name}"

    def inbox(self, node: str) -> str:
        """Stream of the commands for ``node``'s session handlers."""
        return f"{self.prefix}inbox:{node}"

    def is_inbox(self, stream: str) -> bool:
        """Whether ``stream`` is a node's inbox."""
        return stream.startswith(self.prefix + "inbox:")

    def reply(self, node: str) -> str:
        """Stream of the results for the callers on ``node``."""
        return f"{self.prefix}reply:{node}"

    def result(self, command_id: str) -> str:
        """The stored result of a command."""
        return f"{self.prefix}result:{command_id}"

    def submitted(self, command_id: str) -> str:
        """Marks a command id as enqueued."""
        return f"{self.prefix}submitted:{command_id}"

    def lease(self, command_id: str) -> str:
        """The node running a command."""
        return f"{self.prefix}lease:{command_id}"

    def event_group(self, node: str) -> str:
        """The consumer group of ``node`` on the events stream."""
        return f"node:{node}"

    def type_of_command_stream(self, stream: str) -> str | None:
        """The type name of a ``cmd:{Type}`` stream key (None for other keys)."""
        head = self.prefix + "cmd:"
        return stream[len(head) :] if stream.startswith(head) else None
