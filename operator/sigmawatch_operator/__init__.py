"""Sigmawatch Kubernetes operator (kopf)."""
