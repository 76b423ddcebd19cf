"""Serving without BentoML: upload validation and the analyzer over the served models."""
