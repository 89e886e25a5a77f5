"""A gunicorn worker freezes what it built at start-up, so full collections skip it."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from router.app import freeze_start_up_objects

BIN = Path(sys.executable).parent


def test_freezing_hides_the_objects_alive_now_from_the_collector() -> None:
    kept = [[n] for n in range(1000)]  # alive, tracked: what start-up leaves behind
    try:
        frozen = freeze_start_up_objects()
        assert frozen >= len(kept)
        assert all(o is not kept[0] for o in gc.get_objects())  # out of every generation
        fresh = [[n] for n in range(10)]  # what a request makes afterwards is collected as ever
        assert any(o is fresh[0] for o in gc.get_objects())
    finally:
        gc.unfreeze()


def test_the_worker_entry_point_freezes_what_it_built(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ESCR_INSTANCE_PATH": str(tmp_path),
        "ESCR_DATABASE_URL": f"sqlite:///{tmp_path / 'router.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    (tmp_path / "metrics").mkdir()
    subprocess.run([str(BIN / "escr-admin"), "db", "upgrade"], env=env, check=True)
    counted = subprocess.run(
        [
            str(BIN / "python"),
            "-c",
            "import gc, router.wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    frozen, still_tracked = map(int, counted.stdout.split())
    # The application's modules, mappings and schemas: far more than is left to collect.
    assert frozen > 50_000
    assert still_tracked < frozen / 10
