"""Two workers and a client on a redis-server of their own: ``python programs/distributed/demo.py``.

Starts ``redis-server`` (the Debian package: ``apt-get install -y redis-server``)
on a free port, then two workers and the client as separate processes.
"""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not installed: apt-get install -y redis-server", file=sys.stderr)
        return 2
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory() as data:
        redis = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", data, "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        workers: list[subprocess.Popen[str]] = []
        try:
            deadline = time.monotonic() + 20
            while True:  # wait for redis-server to listen
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for name in ("worker-1", "worker-2"):
                proc = subprocess.Popen(
                    [sys.executable, str(HERE / "worker.py"), url, name],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                workers.append(proc)
                print(proc.stdout.readline().strip())  # type: ignore[union-attr]
            return subprocess.run([sys.executable, str(HERE / "client.py"), url]).returncode
        finally:
            for proc in workers:
                proc.terminate()
                proc.communicate(timeout=30)
            redis.terminate()
            redis.wait(30)


if __name__ == "__main__":
    sys.exit(main())
