"""A faithful local Zoom API on loopback, for demos (``--sandbox``), tests and benchmarks.

    from zoomstate.sandbox import Sandbox
    with Sandbox(users=["alice@example.com"], clock=FakeClock()) as sb:
        ...  # point a client at sb.api_url / sb.oauth_url with sb.account_id, sb.client_id, sb.client_secret

It behaves like Zoom as Zoom's API reference and developers' reports describe: S2S OAuth tokens, users, meeting
create/get/list/patch/delete with Zoom's validation, defaults, error bodies and codes, occurrences,
per-label per-second limits and the per-host daily limit with Zoom's headers, pagination, and
switchable faults (:class:`Faults`).
"""

from zoomstate.sandbox.faults import Faults
from zoomstate.sandbox.server import RequestRecord, Sandbox, add_serve_arguments, run_serve
from zoomstate.sandbox.store import ApiError

__all__ = ["ApiError", "Faults", "RequestRecord", "Sandbox", "add_serve_arguments", "run_serve"]
