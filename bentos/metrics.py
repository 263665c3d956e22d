"""The guard's Prometheus metrics, served by BentoML's ``/metrics``.

Built inside the service's ``__init__``: BentoML sets ``PROMETHEUS_MULTIPROC_DIR`` in the worker
before that, and prometheus_client must be imported after it for the values to reach /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class GuardMetrics:
    requests: Counter
    flagged: Counter
    classification_seconds: Histogram
    generation_seconds: Histogram
    tokens_generated: Counter
    batch_size: Histogram

    @classmethod
    def create(cls) -> GuardMetrics:
        from prometheus_client import Counter, Histogram  # noqa: F811 (runtime import, see module doc)

        return cls(
            requests=Counter("eco_guard_requests", "Requests the guard decided on", ["endpoint"]),
            flagged=Counter("eco_guard_flagged", "Requests the guard flagged as forget-scope", ["endpoint"]),
            classification_seconds=Histogram(
                "eco_guard_classification_seconds", "Classifier latency per batch", buckets=LATENCY_BUCKETS
            ),
            generation_seconds=Histogram(
                "eco_guard_generation_seconds", "Generation latency per batch or stream", ["mode"],
                buckets=LATENCY_BUCKETS,
            ),
            tokens_generated=Counter("eco_guard_tokens_generated", "Completion tokens generated"),
            batch_size=Histogram(
                "eco_guard_batch_size", "Requests per classifier or generate call", ["stage"], buckets=BATCH_BUCKETS
            ),
        )
