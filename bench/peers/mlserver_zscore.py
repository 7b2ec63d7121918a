"""A z-score model as an MLServer custom runtime: the same work as Sigmawatch's z-score.

MLServer loads it from model-settings.json (written by bench_peers.py) and
serves it over the Open Inference (V2) protocol. `parameters.extra` carries
μ, σ and the threshold; a request's FP64 input of any length is scored in
one numpy pass and answered with two outputs, the scores and the flags.
"""

from __future__ import annotations

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class ZScore(MLModel):  # type: ignore[misc]
    async def load(self) -> bool:
        extra = self.settings.parameters.extra
        self.mean = float(extra["mean"])
        self.std = float(extra["std"])
        self.threshold = float(extra["threshold"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        values = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float64).ravel()
        scores = np.abs(values - self.mean) / self.std
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                NumpyCodec.encode_output("scores", scores),
                NumpyCodec.encode_output("anomalies", scores > self.threshold),
            ],
        )
