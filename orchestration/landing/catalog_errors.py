"""The errors of a catalog that breaks a rule: what each violation says and where."""

from dataclasses import dataclass


class CatalogError(ValueError):
    """The catalog breaks a rule; the message lists every violation with file, line and rule."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule at one line of one catalog file."""

    file: str
    line: int | None
    rule: str
    column: str | None = None  # the one column the rule judges, when it judges one

    def __str__(self) -> str:
        where = f"{self.file}.csv" + (f" line {self.line}" if self.line else "")
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.rule}"
