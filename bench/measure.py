"""Timing for the benchmarks: concurrent runs, latency percentiles and the run line."""

from __future__ import annotations

import concurrent.futures
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx


def timed(count: int, concurrency: int, one: Callable[[int], None]) -> tuple[float, list[float]]:
    """``one(0..count-1)`` from ``concurrency`` threads: calls per second, latencies (s)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        started = time.perf_counter()
        one(index)
        with lock:
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(run, range(count)))
    return count / (time.perf_counter() - began), latencies


def timed_http(
    base: str, count: int, concurrency: int, call: Callable[[httpx.Client, int], None]
) -> tuple[float, list[float]]:
    """``timed`` with one shared HTTP client on ``base`` passed to every call."""
    with httpx.Client(base_url=base, timeout=30) as client:
        return timed(count, concurrency, lambda index: call(client, index))


def percentiles(latencies: list[float]) -> list[float]:
    """The 1st..99th percentiles: ``[49]`` is p50, ``[94]`` p95, ``[98]`` p99."""
    return statistics.quantiles(latencies, n=100)


@dataclass
class Result:
    """Throughput and latency of one scenario."""

    name: str
    throughput: float
    p50: float
    p99: float

    @classmethod
    def of(cls, name: str, rate: float, latencies: list[float]) -> Result:
        """The result of a ``timed`` run."""
        q = percentiles(latencies)
        return cls(name, rate, q[49], q[98])

    def line(self) -> str:
        """One line of figures."""
        return (
            f"{self.name:<28} {self.throughput:8.1f} req/s   p50 {self.p50 * 1000:6.1f} ms   "
            f"p99 {self.p99 * 1000:6.1f} ms"
        )
