"""Sigmawatch inference service: FastAPI app, model cache, CLI."""
