"""ScalpVision segmentation."""
