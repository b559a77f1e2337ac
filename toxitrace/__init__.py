"""Explainable Chinese toxicity detection: a classifier that returns contiguous toxic evidence spans from its own gradient saliency (ToxiTrace)."""

__version__ = "0.0.1"
