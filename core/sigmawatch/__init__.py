"""Sigmawatch core: detectors, validation, registry, artifacts and training.

Shared by the inference service and the operator; imports neither FastAPI nor kopf.
"""

__version__ = "0.1.0"
