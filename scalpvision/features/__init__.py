"""ScalpVision features."""
