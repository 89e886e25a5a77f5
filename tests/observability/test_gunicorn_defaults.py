"""router.gunicorn_config's defaults: one process on the memory store, one per core on Redis."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("ESCR_WORKERS", "ESCR_THREADS", "ESCR_RATE_LIMIT_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    # Importing the configuration sets the metrics folder for the processes it will start: give
    # it one of this test's own, which monkeypatch takes back (the other tests count in-process).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    return monkeypatch


@pytest.fixture
def gunicorn_config(env: pytest.MonkeyPatch) -> ModuleType:
    return importlib.import_module("router.gunicorn_config")


def test_the_memory_store_gets_one_process_with_threads(
    env: pytest.MonkeyPatch, gunicorn_config: ModuleType
) -> None:
    assert gunicorn_config.worker_class == "gthread"
    assert gunicorn_config._default_workers() == 1
    assert gunicorn_config._default_threads(1) == 8


def test_redis_gets_one_process_per_core(
    env: pytest.MonkeyPatch, gunicorn_config: ModuleType
) -> None:
    env.setenv("ESCR_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    assert gunicorn_config._default_workers() == max(1, os.cpu_count() or 1)
    assert gunicorn_config._default_threads(2) == 4


def test_the_environment_chooses_otherwise(
    env: pytest.MonkeyPatch, gunicorn_config: ModuleType
) -> None:
    env.setenv("ESCR_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    env.setenv("ESCR_WORKERS", "3")
    env.setenv("ESCR_THREADS", "2")
    assert gunicorn_config._default_workers() == 3
    assert gunicorn_config._default_threads(3) == 2


def test_gunicorn_builds_no_access_line_even_when_one_is_asked_for(
    gunicorn_config: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gunicorn's access line holds the request's path, and paths hold ESIs.
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    built: list[object] = []
    monkeypatch.setattr(Logger, "atoms", lambda self, resp, *_: built.append(resp) or {})
    assert gunicorn_config.logger_class is gunicorn_config.WithoutAccessLog
    # setup() would apply the logging configuration to this process: only cfg is read here.
    logger = object.__new__(gunicorn_config.WithoutAccessLog)
    logger.cfg = Config()
    logger.cfg.set("logconfig_dict", gunicorn_config.logconfig_dict)
    logger.cfg.set("accesslog", "-")
    logger.access("a response", None, {}, None)
    assert built == []
