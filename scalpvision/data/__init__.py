"""ScalpVision data."""
