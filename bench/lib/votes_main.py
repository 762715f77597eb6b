"""Throughput of the voting pipeline, side by side with its baselines.

1. Front door ceiling: a plain Flask handler (cookie + RPUSH) under gunicorn,
   4 sync workers, driven by wrk.
2. End to end: the real vote app under gunicorn as shipped (4 threaded
   workers, apps/vote/gunicorn.conf.py) and the real
   worker, on a real Redis and Postgres; wrk for --duration seconds, then the
   clock runs until every vote is a committed row.  Each request is a new
   voter, so "no loss" is exact: rows == RPUSHes Redis executed.
   1 and 2 alternate for --rounds rounds (each on its own Redis) so that load
   from anything else on the machine weighs on both; medians are reported.
3. Worker only: a pre-filled queue, drained by our worker, and by the
   original loop (LPOP + 100 ms sleep, one statement per row) measured over
   --baseline-seconds and extrapolated.

Usage: bench/votes [--duration 5] [--rounds 3] [--connections 16] [--threads 2]
                   [--worker-votes 50000] [--baseline-seconds 3]
Exit status 1 if a vote was lost.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
# The bench needs the repo's venv (flask, gunicorn, redis, psycopg).
if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), __file__, *sys.argv[1:]])
# The services are deployables, not installed packages: import them from the tree.
sys.path[:0] = [str(REPO), str(REPO / "apps" / "vote"), str(REPO / "apps" / "worker")]

from bench.lib.votes_bench import main  # noqa: E402 - needs the sys.path above

if __name__ == "__main__":
    sys.exit(main(__doc__))
