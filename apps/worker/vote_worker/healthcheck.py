"""Container health check: the worker loop has come round recently.

The loop touches the health file after every iteration, including failed
ones, so this reports a stuck process, not a database outage.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .config import Settings

MAX_SILENCE_SECONDS = 60


def main() -> int:
    health_file = Path(Settings.from_env().health_file)
    try:
        silence = time.time() - health_file.stat().st_mtime
    except FileNotFoundError:
        print("worker has not completed a loop yet")
        return 1
    if silence > MAX_SILENCE_SECONDS:
        print(f"worker loop silent for {silence:.0f}s")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
