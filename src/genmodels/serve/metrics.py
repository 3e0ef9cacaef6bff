"""Request counts, latencies, queue depth and batch sizes in the Prometheus text format (``/metrics``).

Each app has its own registry, so several apps in one process (tests) keep separate counts.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServerMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "genmodels_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "genmodels_request_seconds", "Time to answer a request", ["route"], buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "genmodels_queue_depth", "Sample requests waiting to join a batch", ["model"], registry=self.registry
        )
        self.in_flight = Gauge("genmodels_in_flight", "Requests being answered", registry=self.registry)
        self.streams = Gauge("genmodels_streams_active", "Text generations streaming now", registry=self.registry)
        self.batch_requests = Histogram(
            "genmodels_batch_requests", "Requests sharing one forward pass", ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "genmodels_batch_rows", "Samples drawn in one forward pass", ["model"],
            buckets=(1, 16, 64, 128, 256, 512, 1024), registry=self.registry,
        )  # fmt: skip

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def observe_batch(self, model: str, requests: int, rows: int) -> None:
        self.batch_requests.labels(model).observe(requests)
        self.batch_rows.labels(model).observe(rows)

    def render(self) -> bytes:
        return generate_latest(self.registry)
