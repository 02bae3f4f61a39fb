"""A module that must never be imported by message decoding: importing it writes a file.

The file is ``$LLMGINE_TEST_EVIL_MARKER`` (nothing happens when it is unset). The
tests name ``evil_module:Payload`` as a record's message type: a decoder that
imported what a record names would import this (it is on the workers' sys.path).
"""

from __future__ import annotations

import os
from pathlib import Path

from llmgine import Command, Event

_marker = os.environ.get("LLMGINE_TEST_EVIL_MARKER")
if _marker:
    Path(_marker).write_text("imported\n")


class Payload(Command):
    pass


class EventPayload(Event):
    pass
