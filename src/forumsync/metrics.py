"""`forumsync run --metrics-port N`: Prometheus metrics (prometheus-client) on /metrics."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from forumsync import transport


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.cycles = Counter("forumsync_cycles", "Sync cycles by outcome "
                              "(ok, failed, unreachable, error, stopped)", ["outcome"],
                              registry=self.registry)
        self.duration = Histogram("forumsync_cycle_duration_seconds", "Sync cycle duration",
                                  buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
                                  registry=self.registry)
        self.requests = Counter("forumsync_requests", "HTTP requests by service and status "
                                "('unreachable' when no connection opened)",
                                ["service", "status"], registry=self.registry)
        self.open_problems = Gauge("forumsync_open_problems", "Problems standing in `status`",
                                   registry=self.registry)
        self.rate_limit = Gauge("forumsync_rate_limit_remaining",
                                "Requests left in the service's rate-limit window", ["service"],
                                registry=self.registry)
        self.last_success = Gauge("forumsync_last_success_timestamp_seconds",
                                  "When the last successful cycle ended (Unix time)",
                                  registry=self.registry)

    def on_response(self, service: str, status: str, headers: Mapping[str, str]) -> None:
        self.requests.labels(service, status).inc()
        lowered = {k.lower(): v for k, v in headers.items()}
        remaining = lowered.get("x-ratelimit-remaining")
        if remaining is not None and str(remaining).isdigit():
            self.rate_limit.labels(service).set(int(remaining))

    def cycle(self, outcome: str, seconds: float, open_problems: int, ended: float) -> None:
        self.cycles.labels(outcome).inc()
        self.duration.observe(seconds)
        self.open_problems.set(open_problems)
        if outcome == "ok":
            self.last_success.set(ended)

    def listen(self) -> None:
        transport.RESPONSE_LISTENERS.append(self.on_response)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        self.listen()
        start_http_server(port, addr=host, registry=self.registry)
