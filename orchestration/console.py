"""What a command prints: a progress bar per run, dbt's per-node lines kept in a log file.

dagster-dbt writes every dbt log line to `sys.stdout`. While a run goes, `RunOutput` takes that
place: each line goes to the command's log file (and to the terminal with `--verbose`), and the
dbt node counter ("12 of 250 OK ...") moves the build part of the progress bar.
"""

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

# dbt's result lines: "12:00:01  12 of 250 OK created sql table model ..." (also PASS, ERROR...).
DBT_RESULT = re.compile(r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")
PHASES = ("landing", "build", "outputs")
BAR_WIDTH = 24


@dataclass(slots=True)
class ConsoleOptions:
    """How loud a command is: `--verbose` shows dbt's lines, `--debug` adds stack traces."""

    verbose: bool = False
    debug: bool = False
    log_path: Path | None = None


options = ConsoleOptions()


def log_path_for(folder: Path, command: str) -> Path:
    """A new log file for one command under `folder` (beside the warehouse)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{command}-{stamp}.log"


class RunOutput(io.TextIOBase):
    """A text stream for the lines dagster-dbt prints; draws the progress of one run."""

    def __init__(self, label: str, terminal: IO[str], log: IO[str] | None, verbose: bool):
        self.label = label
        self.terminal = terminal
        self.log = log
        self.verbose = verbose
        self.interactive = bool(getattr(terminal, "isatty", lambda: False)())
        self.phase = "landing"
        self.done = 0
        self.total = 0
        self.failed = 0
        self._partial = ""
        self._shown: tuple[str, int] | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.log:
            self.log.write(text)
        if self.verbose:
            self.terminal.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._read(line)
        return len(text)

    def flush(self) -> None:
        if self.log:
            self.log.flush()
        self.terminal.flush()

    def _read(self, line: str) -> None:
        if "Finished running" in line:  # dbt's last summary: the outputs come next
            self.phase = "outputs"
            self.draw()
            return
        match = DBT_RESULT.search(line)
        if not match:
            return
        self.phase = "build"
        # dbt's threads finish out of order: the bar only moves forward.
        self.done, self.total = max(self.done, int(match[1])), int(match[2])
        if match[3] in ("ERROR", "FAIL"):
            self.failed += 1
        self.draw()

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.draw()

    def draw(self, final: bool = False) -> None:
        """Draw the bar: in place on a terminal, else one line per phase and quarter."""
        if self.verbose:
            return
        step = PHASES.index(self.phase) + 1 if self.phase in PHASES else len(PHASES)
        fraction = self.done / self.total if self.total else 0.0
        # Landing is the first third, the dbt build the second, outputs the last.
        overall = 1.0 if final else (step - 1 + (fraction if self.phase == "build" else 0)) / 3
        filled = round(overall * BAR_WIDTH)
        detail = f"{self.phase} {self.done}/{self.total}" if self.phase == "build" else self.phase
        if final:
            detail = "done" + (f", {self.failed} dbt node(s) failed" if self.failed else "")
        text = f"{self.label:<18} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {detail}"
        if self.interactive:
            self.terminal.write("\r" + text.ljust(72) + ("\n" if final else ""))
            self.terminal.flush()
            return
        quarter = int(fraction * 4) if self.phase == "build" else 0
        shown = (self.phase if not final else "done", quarter)
        if shown != self._shown:
            self._shown = shown
            self.terminal.write(text + "\n")


@contextmanager
def run_output(label: str) -> Iterator[RunOutput]:
    """Capture dbt's lines for the length of one run; show its progress on the terminal."""
    terminal = sys.stdout
    log = options.log_path.open("a", encoding="utf-8") if options.log_path else None
    output = RunOutput(label, terminal, log, options.verbose)
    if log:
        log.write(f"==== {label} ====\n")
    sys.stdout = output
    try:
        output.draw()
        yield output
        output.phase = "outputs"
        output.draw(final=True)
    finally:
        sys.stdout = terminal
        if log:
            log.close()


# A catalog violation as the loader words it: "<dir>/<file>.csv line <n>: <rule>".
# A rule that judges one column names it: "<dir>/<file>.csv line <n>, column <c>: <rule>".
CATALOG_VIOLATION = re.compile(
    r"^\s*(?P<path>\S.*?\.csv) line (?P<line>\d+)(?:, column (?P<column>\w+))?: (?P<rule>.+)$"
)


def explain_catalog_violations(message: str) -> str:
    """Each catalog violation of `message` as one paragraph: file, line, the column the rule judges
    (else the columns its text names) with the value found there, quoted, and the rule. Other
    lines are kept as they are."""
    import csv

    out = []
    for text in message.splitlines():
        match = CATALOG_VIOLATION.match(text)
        if not match:
            out.append(text)
            continue
        path, line, rule = Path(match["path"]), int(match["line"]), match["rule"]
        cells = ""
        try:
            with path.open(newline="", encoding="utf-8") as file:
                rows = list(csv.reader(file))
            header, row = rows[0], rows[line - 1]
            named = [
                (column, row[index] if index < len(row) else "")
                for index, column in enumerate(header)
                if column == match["column"]
                or (not match["column"] and re.search(rf"\b{re.escape(column)}\b", rule))
            ]
            if match["column"] and not named:  # the file has no such column: it is empty
                named = [(match["column"], "")]
            cells = ", ".join(f'column {column} = "{value}"' for column, value in named)
        except (OSError, IndexError, UnicodeDecodeError, csv.Error):
            pass
        out.append(
            f"{path.name} line {line}" + (f", {cells}" if cells else "") + f": {rule} ({path})"
        )
    return "\n".join(out)
