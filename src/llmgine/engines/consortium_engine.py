"""``python -m llmgine.cli.consortium``: the consortium's command line.

The engine itself is :mod:`llmgine.engines.consortium`; its command line (the
same as ``llmgine consortium``) is :mod:`llmgine.cli.consortium`.
"""

from llmgine.engines.consortium import (
    ConsortiumEngine,
    ConsortiumEngineCommand,
    ConsortiumEngineStatusEvent,
    use_consortium_engine,
)

__all__ = [
    "ConsortiumEngine",
    "ConsortiumEngineCommand",
    "ConsortiumEngineStatusEvent",
    "use_consortium_engine",
]

if __name__ == "__main__":
    from llmgine.cli.consortium import main

    main()
