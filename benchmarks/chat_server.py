"""A Chat Completions server for the HTTP benchmark, run as a separate process.

``python benchmarks/chat_server.py`` prints its port and answers every
``POST /v1/chat/completions``: with a ``get_weather_async`` tool call while the
conversation has no tool result, else with a short answer. A process of its
own, so the client under test never competes with it for the GIL.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(message: dict[str, Any], finish: str) -> bytes:
    """A Chat Completions response body."""
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }
    ).encode()


TOOL_CALL = completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather_async", "arguments": '{"city": "Perth"}'},
            }
        ],
    },
    "tool_calls",
)
ANSWER = completion({"role": "assistant", "content": "It is 17 C in Perth."}, "stop")


class Handler(BaseHTTPRequestHandler):
    """Answers chat completions; keeps connections alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        """One completion."""
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        answered = any(message.get("role") == "tool" for message in body["messages"])
        reply = ANSWER if answered else TOOL_CALL
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def main() -> None:
    """Serve on a free port of 127.0.0.1 until killed; print the port first."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
