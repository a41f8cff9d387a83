"""Fault injection for the crash tests: a real SIGKILL at a named point of a run.

`MH_CRASH_AT=<point>[#<n>]` kills the run the n-th time (default: the first) it reaches `<point>`.
Unset, which is always the case outside tests/integration/test_crash_recovery.py, a crash point
costs one environment lookup. Points: `landing_file_loading` (a landing file's rows are inserted,
its transaction not committed), `dbt_built:<model>` (dbt logged the model built: committed, and
the models after it not yet), `pdf_writing` and `ledger_writing` (the temporary file is written,
not yet renamed over the target).
"""

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import BinaryIO

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


def dbt_file_log_level() -> str:
    """dbt's own file log (`dbt.log` of the invocation folder) only for a run that tails it; the
    CLI keeps dbt's lines in its own log (logs/), and the second copy costs a second of CPU in a
    small close (docs/performance.md)."""
    return "info" if os.environ.get("MH_CRASH_AT", "").startswith("dbt_built:") else "none"


def watch_dbt_log(log: Path) -> None:
    """For `MH_CRASH_AT=dbt_built:<model>`: kill the run as soon as dbt logs that model built.

    A thread tails dbt's own log and reacts within milliseconds. Dagster's events lag behind dbt
    (by more than a second on a busy machine), long enough for dbt to build the next models.
    """
    point = os.environ.get("MH_CRASH_AT", "").partition("#")[0]
    if not point.startswith("dbt_built:"):
        return
    model = point.removeprefix("dbt_built:")

    def built(line: bytes) -> None:
        if b'"LogModelResult"' in line:
            node = json.loads(line)["data"]["node_info"]
            if node["node_name"] == model and node["node_status"] == "success":
                crash_point(point)

    def tail() -> None:
        while not log.exists():
            time.sleep(0.005)
        stream = log.open("rb")
        line = b""
        while True:
            line += stream.readline()
            if line.endswith(b"\n"):
                built(line)
                line = b""
            elif _rotated(log, stream):
                # dbt rotates its log at 10 MB, which a close's debug log passes: the rest of the
                # old file first, then the new file under the same name.
                for rest in (line + stream.read()).splitlines():
                    built(rest)
                stream.close()
                stream = log.open("rb")
                line = b""
            else:  # nothing new yet, or half a line
                time.sleep(0.005)

    threading.Thread(target=tail, name="crash-point-dbt-log", daemon=True).start()


def _rotated(log: Path, stream: BinaryIO) -> bool:
    """Whether the file now under `log`'s name is another than the one `stream` reads."""
    try:
        return log.stat().st_ino != os.fstat(stream.fileno()).st_ino
    except FileNotFoundError:  # between the rename and the new file
        return False
