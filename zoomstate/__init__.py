"""zoomstate: keep recurring Zoom meetings in a reviewed YAML file and make Zoom match it."""

__version__ = "0.1.0"
