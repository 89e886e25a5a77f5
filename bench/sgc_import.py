"""Measure escr-sgc's per-row import against a local router: rows per second, first and second run.

Starts gunicorn on a free loopback port with a temporary SQLite database (as the tests do), writes
a persons CSV of ``--rows`` rows, and times ``escr-sgc persons import`` with 1 and more workers,
each followed by a second run (everything unchanged).
Run: ``python bench/sgc_import.py --rows 2000``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import tempfile
import time
from pathlib import Path

from live_router import BIN, LiveRouter, escr_admin


def write_csv(path: Path, rows: int, start: int) -> None:
    """A persons CSV of valid rows."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["esi", "fullName", "email", "phone", "academicLevel"])
        for i in range(start, start + rows):
            writer.writerow(
                [
                    f"urn:schac:personalUniqueCode:int:esi:FR:{i:08d}",
                    f"S {i}",
                    f"s{i}@u.example",
                    "",
                    "MASTER",
                ]
            )


def main() -> None:
    """Run the measurement and print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "ESCR_INSTANCE_PATH": tmp,
            "ESCR_DATABASE_URL": f"sqlite:///{work / 'router.sqlite3'}",
        }
        escr_admin(env, "db", "upgrade")
        # Plain gunicorn (not router.gunicorn_config), as this bench has always measured.
        with LiveRouter(env, workers=options.gunicorn_workers, config=False) as server:
            server.wait_ready()
            url = server.url
            for n, workers in enumerate(options.workers):
                pic = f"{700000001 + n}"
                escr_admin(env, "org", "create", "--pic", pic, "--name", f"Bench {pic}")
                key = escr_admin(env, "key", "create", "--pic", pic).split()[0]
                path = work / f"p{n}.csv"
                write_csv(path, options.rows, start=n * 1_000_000)
                for label in ("first", "second"):
                    began = time.perf_counter()
                    done = subprocess.run(
                        [
                            str(BIN / "escr-sgc"),
                            "--router",
                            url,
                            "--api-key",
                            key,
                            "persons",
                            "import",
                            str(path),
                            "--no-progress",
                            "--mode",
                            "per-row",
                            "--workers",
                            str(workers),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    took = time.perf_counter() - began
                    summary = done.stdout.strip().splitlines()[-1]
                    print(
                        f"per-row workers={workers} {label} run: {options.rows} rows in "
                        f"{took:.1f} s ({options.rows / took:.0f} rows/s) {summary}"
                    )


if __name__ == "__main__":
    main()
