"""The catalogue a router holds: fetched with ETag, verified, kept on disk and while the source
is down, never replaced by a forged or older one."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.federation.directory import CACHE_FILE, CatalogueDirectory
from tests.federation.catalogue_source import CatalogueSource
from tests.federation.factories import Authority, PeerRouter

A = PeerRouter("router-a", "https://a.example", ("111111111",))
B = PeerRouter("router-b", "https://b.example", ("222222222",))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def source() -> Iterator[CatalogueSource]:
    served = CatalogueSource().start()
    yield served
    served.stop()


def _directory(
    source: CatalogueSource, authority: Authority, folder: Path, clock: Clock | None = None
) -> CatalogueDirectory:
    return CatalogueDirectory(
        source.url,
        [authority.public],
        folder,
        refresh_seconds=900,
        retry_seconds=30,
        auto_refresh=False,
        clock=clock or Clock(),
    )


def test_fetches_then_revalidates_with_the_etag(source: CatalogueSource, tmp_path: Path) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    directory = _directory(source, authority, tmp_path)
    assert directory.current() is None
    assert directory.refresh().result == "updated"
    assert directory.current().host_of("222222222").id == "router-b"
    assert directory.refresh().result == "unchanged"
    assert source.answers == [200, 304]
    assert source.conditional[0] is None and source.conditional[1].startswith('"')
    # The Last-Modified it was given goes back too, for sources that only honour dates.
    served = email.utils.formatdate(source.modified, usegmt=True)
    assert source.since == [None, served]


def test_a_new_catalogue_replaces_the_old_one(source: CatalogueSource, tmp_path: Path) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    directory = _directory(source, authority, tmp_path)
    directory.refresh()
    source.publish(authority.sign([A.entry()]))
    assert directory.refresh().result == "updated"
    assert directory.current().serial == 2
    assert directory.current().host_of("222222222") is None


def test_a_catalogue_with_a_bad_signature_is_refused_and_the_held_one_kept(
    source: CatalogueSource, tmp_path: Path
) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    directory = _directory(source, authority, tmp_path)
    directory.refresh()
    # The authority's next catalogue, with the signature of another key in its place.
    forged = json.loads(authority.sign([A.entry()]))
    forged["signature"] = json.loads(Authority().sign([A.entry()]))["signature"]
    source.publish(json.dumps(forged).encode())
    outcome = directory.refresh()
    assert outcome.result == "failed" and "signature" in outcome.detail
    assert directory.current().serial == 1
    assert directory.current().host_of("222222222").id == "router-b"
    assert "signature" in directory.last_error


def test_an_older_signed_catalogue_is_refused(source: CatalogueSource, tmp_path: Path) -> None:
    authority = Authority()
    old = authority.sign([A.entry(), B.entry()])
    source.publish(authority.sign([A.entry()]))
    directory = _directory(source, authority, tmp_path)
    directory.refresh()
    source.publish(old)
    assert directory.refresh().result == "failed"
    assert directory.current().serial == 2


def test_while_the_source_is_down_the_held_copy_is_used_and_retried_sooner(
    source: CatalogueSource, tmp_path: Path
) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    clock = Clock()
    directory = _directory(source, authority, tmp_path, clock)
    directory.refresh()
    source.stop()
    clock.now += 901
    outcome = directory.refresh()
    assert outcome.result == "failed"
    assert directory.current().host_of("222222222").id == "router-b"
    # A failed fetch is tried again after the retry delay, not the full refresh period.
    assert directory._next_attempt == clock.now + 30


def test_a_restart_while_the_source_is_down_starts_from_the_copy_on_disk(
    source: CatalogueSource, tmp_path: Path
) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    _directory(source, authority, tmp_path).refresh()
    assert (tmp_path / CACHE_FILE).exists()
    source.stop()
    restarted = _directory(source, authority, tmp_path)
    assert restarted.load_cached()
    assert restarted.current().host_of("222222222").id == "router-b"
    # The saved ETag makes the next fetch conditional.
    assert restarted._conditional_headers()["If-None-Match"].startswith('"')


def test_a_tampered_copy_on_disk_is_not_trusted(source: CatalogueSource, tmp_path: Path) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry()]))
    _directory(source, authority, tmp_path).refresh()
    cached = json.loads((tmp_path / CACHE_FILE).read_bytes())
    cached["payload"] = cached["payload"][:-2] + "AA"
    (tmp_path / CACHE_FILE).write_text(json.dumps(cached))
    assert not _directory(source, authority, tmp_path).load_cached()


def test_an_expired_copy_is_no_longer_used(source: CatalogueSource, tmp_path: Path) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry()], valid_for=dt.timedelta(seconds=60)))
    clock = Clock()
    directory = _directory(source, authority, tmp_path, clock)
    directory.refresh()
    assert directory.current() is not None
    clock.now += 61
    assert directory.current() is None


def test_a_due_refresh_runs_in_the_background_and_never_blocks_a_lookup(
    source: CatalogueSource, tmp_path: Path
) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry()]))
    directory = _directory(source, authority, tmp_path)
    directory.auto_refresh = True
    assert directory.current() is None  # answered at once; the fetch runs on its own thread
    for _ in range(200):
        if directory.current() is not None:
            break
        time.sleep(0.01)
    assert directory.current().serial == 1


def test_a_worker_holding_nothing_yet_adopts_the_copy_a_sibling_saved(
    source: CatalogueSource, tmp_path: Path
) -> None:
    authority = Authority()
    source.publish(authority.sign([A.entry(), B.entry()]))
    clock = Clock()
    starting = _directory(source, authority, tmp_path, clock)
    assert starting.current() is None
    _directory(source, authority, tmp_path).refresh()  # the sibling worker
    assert starting.current() is None, "the disk is looked at once a second at most"
    clock.now += 1
    assert starting.current().host_of("222222222").id == "router-b"
    assert source.answers == [200]
