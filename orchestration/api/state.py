"""The customers and subscription phases already in the landing folder, for writes that build
on them (Lago's create-or-update of a customer, a subscription's termination or plan change).

Landing files are read with the loader's own reader (`readers.stage_file`), whatever their format,
and cached per file (size, mtime). Rows are taken as given, text per field; the latest
`updated_at` wins, as in the close.
"""

import threading
from pathlib import Path

import duckdb

from orchestration.landing.readers import LANDING_KINDS, landing_files, stage_file


class LandingState:
    def __init__(self, landing_dir: Path) -> None:
        self.landing_dir = landing_dir
        self._cache: dict[Path, tuple[tuple[int, int], list[dict]]] = {}
        self._lock = threading.Lock()

    def _read(self, kind_name: str) -> list[dict]:
        kind = LANDING_KINDS[kind_name]
        rows: list[dict] = []
        with self._lock:
            conn = None
            for path in landing_files(self.landing_dir / kind_name):
                stat = path.stat()
                signature = (stat.st_size, stat.st_mtime_ns)
                cached = self._cache.get(path)
                if cached is None or cached[0] != signature:
                    if conn is None:
                        conn = duckdb.connect(":memory:", config={"threads": 1})
                    try:
                        stage_file(conn, kind, path)
                    except Exception:  # an unreadable file is the close's to quarantine
                        cached = (signature, [])
                    else:
                        fields = ", ".join(f'"{f}"' for f in kind.fields)
                        result = conn.execute(
                            f"select {fields} from staged_text where is_parseable "
                            "order by line_number"
                        )
                        names = [d[0] for d in result.description]
                        cached = (
                            signature,
                            [dict(zip(names, r, strict=True)) for r in result.fetchall()],
                        )
                    self._cache[path] = cached
                rows.extend(cached[1])
            if conn is not None:
                conn.close()
        return rows

    def customer(self, external_customer_id: str) -> dict | None:
        """The latest landing row of a customer (fields as text), or None."""
        rows = [
            r for r in self._read("customers") if r["external_customer_id"] == external_customer_id
        ]
        return max(rows, key=lambda r: r.get("updated_at") or "", default=None)

    def subscription_phases(self, external_subscription_id: str) -> list[dict]:
        """Every phase row of a subscription, latest `updated_at` last."""
        rows = [
            r
            for r in self._read("subscriptions")
            if r["external_subscription_id"] == external_subscription_id
        ]
        return sorted(rows, key=lambda r: (r.get("updated_at") or "", r.get("started_at") or ""))
