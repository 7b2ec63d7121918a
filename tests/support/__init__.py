"""Helpers that start the real servers the tests run against."""
