"""Great Expectations 1.x suites over the ScalpVision manifests (suites as code)."""
