"""ScalpVision: label-free hair segmentation and scalp diagnosis (arXiv 2406.17254)."""

__version__ = "0.1.0"
