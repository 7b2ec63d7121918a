"""A z-score model on KServe's model server: the same work as Sigmawatch's z-score.

    python kserve_zscore.py --http_port P --mean M --std S --threshold T

Served over KServe's V1 protocol (`POST /v1/models/zscore:predict` with
`{"instances": [...]}`), one worker, gRPC off, with its per-request latency
log and access log off, its best configuration for throughput on one core.
KServe 0.21 binds its REST server to 0.0.0.0 with no setting for it; the
benchmark listens on loopback only, so the uvicorn config it builds is
given 127.0.0.1 here.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import kserve
import numpy as np
import uvicorn


class ZScore(kserve.Model):  # type: ignore[misc]
    def __init__(self, name: str, mean: float, std: float, threshold: float) -> None:
        super().__init__(name)
        self.mean, self.std, self.threshold = mean, std, threshold
        self.ready = True

    async def predict(
        self, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        values = np.asarray(payload["instances"], dtype=np.float64)
        scores = np.abs(values - self.mean) / self.std
        return {
            "predictions": {
                "scores": scores.tolist(),
                "anomalies": (scores > self.threshold).tolist(),
            }
        }


class LoopbackConfig(uvicorn.Config):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "host": "127.0.0.1"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http_port", type=int, required=True)
    for name in ("mean", "std", "threshold"):
        parser.add_argument(f"--{name}", type=float, required=True)
    args = parser.parse_args()
    uvicorn.Config = LoopbackConfig  # type: ignore[misc]
    logging.getLogger().setLevel(logging.WARNING)
    model = ZScore("zscore", args.mean, args.std, args.threshold)
    kserve.ModelServer(
        http_port=args.http_port,
        workers=1,
        enable_grpc=False,
        enable_docs_url=False,
        enable_latency_logging=False,
        access_log_format=None,
    ).start([model])


if __name__ == "__main__":
    main()
