"""Order statistics over repeated samples: on a shared, noisy machine a mean hides the tail."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1): always one of the samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        return cls(
            count=len(samples),
            mean=statistics.fmean(samples) if samples else math.nan,
            p50=percentile(samples, 0.50),
            p95=percentile(samples, 0.95),
            p99=percentile(samples, 0.99),
            max=max(samples) if samples else math.nan,
        )

    def scaled(self, factor: float) -> Summary:
        """The same figures in another unit (seconds to milliseconds: 1000)."""
        return Summary(self.count, *(value * factor for value in (self.mean, self.p50, self.p95, self.p99, self.max)))

    def as_dict(self, digits: int = 2) -> dict[str, float]:
        return {key: value if key == "count" else round(value, digits) for key, value in asdict(self).items()}
