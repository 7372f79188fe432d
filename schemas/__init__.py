"""JSON Schemas shipped with zoomstate (installed as the ``zoomstate.schemas`` package)."""
