"""Former home of the request body and managed view; :mod:`zoomstate.zoombody` owns Zoom's format now.

Kept so that existing imports keep working; new code imports from zoombody.
"""

from zoomstate.zoombody import MANAGED_SETTINGS, create_body, managed_view, settings_for

__all__ = ["MANAGED_SETTINGS", "create_body", "managed_view", "settings_for"]
