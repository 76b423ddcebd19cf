"""ScalpVision alopecia."""
