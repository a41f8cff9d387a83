"""Fault injection for the crash tests: a real SIGKILL at a named point of a run.

`MH_CRASH_AT=<point>[#<n>]` kills the run the n-th time (default: the first) it reaches `<point>`.
Unset, which is always the case outside tests/integration/test_crash_recovery.py, a crash point
costs one environment lookup. Points: `landing_file_loading` (a landing file's rows are inserted,
its transaction not committed), `dbt_built:<model>` (dbt reported the model built: committed,
and the models after it not yet; orchestration/dbt_in_process.py), `pdf_writing` and
`ledger_writing` (the temporary file is written, not yet renamed over the target).
"""

import os
import signal
from collections import Counter

_hits: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this run here if MH_CRASH_AT names this point (and this is its n-th hit)."""
    wanted = os.environ.get("MH_CRASH_AT")
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] != int(nth or 1):
        return
    if os.getpgrp() != os.getpid():
        # Killing the group would take the caller (a shell, pytest) with it.
        raise RuntimeError("MH_CRASH_AT needs the run to lead its process group (setsid)")
    # The whole group, as an OOM kill of the container or a power cut would: the dbt subprocess
    # dies with the run instead of finishing its build as an orphan.
    os.killpg(os.getpgrp(), signal.SIGKILL)
