"""`meterhouse docs`: build the dbt docs of the billing tables and serve them on localhost.

`dbt docs generate` compiles the project and reads the warehouse's catalog (tables, columns and
their types), then writes a static site: `index.html`, `manifest.json` and `catalog.json`. It is
written under `<output>/dbt_docs/`, never into `target/`, so the manifest Dagster reads is left
alone. The site is then served by a small HTTP server bound to 127.0.0.1 until Ctrl-C.
"""

import argparse
import functools
import os
import signal
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from orchestration.settings import REPO_ROOT, Locations

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


class DocsError(Exception):
    """The docs could not be built; the message says why and what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `meterhouse docs` (the locations are added by the CLI)."""
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--no-serve", action="store_true", help="only build the site and print where it is"
    )


def docs_dir(locations: Locations) -> Path:
    """Where the site is written: `<output>/dbt_docs`."""
    return locations.output_dir / "dbt_docs"


def generate(locations: Locations, target: Path) -> Path:
    """Run `dbt docs generate` against the warehouse of `locations`, writing the site to `target`.

    Raises DocsError when the warehouse does not exist (an empty catalog would document no
    table) or when dbt fails; the error carries dbt's own last lines.
    """
    if not locations.warehouse.exists():
        raise DocsError(
            f"no warehouse at {locations.warehouse}: close a month first "
            "(`meterhouse close --month YYYY-MM`, or `make demo`), or pass --warehouse"
        )
    from orchestration.project import DBT_EXECUTABLE

    target.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MH_WAREHOUSE": str(locations.warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        DBT_EXECUTABLE,
        "docs",
        "generate",
        "--quiet",
        "--project-dir",
        str(REPO_ROOT),
        "--profiles-dir",
        str(REPO_ROOT),
        "--target-path",
        str(target.resolve()),
    ]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        raise DocsError("dbt docs generate failed:\n" + "\n".join(output[-20:]))
    missing = [name for name in SITE_FILES if not (target / name).exists()]
    if missing:
        raise DocsError(f"dbt docs generate wrote no {', '.join(missing)} in {target}")
    return target


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves the site's files without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        return


def make_server(directory: Path, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """An HTTP server of `directory` bound to host:port (port 0 picks a free one)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    return ThreadingHTTPServer((host, port), handler)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(directory: Path, host: str, port: int) -> None:
    """Serve `directory` until Ctrl-C (SIGINT) or SIGTERM."""
    # Also when started in the background, where a shell leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server = make_server(directory, host, port)
    except OSError as error:
        raise DocsError(f"cannot listen on {host}:{port} ({error.strerror}); try --port") from None
    with server:
        bound_port = server.server_address[1]
        print(  # noqa: T201
            f"dbt docs of the billing tables: http://{host}:{bound_port}/ (Ctrl-C to stop)",
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", file=sys.stderr)  # noqa: T201


def command(locations: Locations, args: argparse.Namespace) -> int:
    """`meterhouse docs`: build the site while holding the warehouse, then serve it."""
    from orchestration.runs import warehouse_lock

    target = docs_dir(locations)
    try:
        # The catalog reads the warehouse: not while a close or finalization writes it.
        with warehouse_lock(locations.warehouse):
            generate(locations, target)
        print(f"Built the dbt docs in {target}.", flush=True)  # noqa: T201
        if not args.no_serve:
            serve(target, args.host, args.port)
    except DocsError as error:
        print(f"meterhouse docs: {error}", file=sys.stderr)  # noqa: T201
        return 2
    return 0
