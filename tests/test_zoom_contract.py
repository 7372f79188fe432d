"""Contract: everything the client sends matches Zoom's published OpenAPI document.

The client runs its calls against the scripted stub server, which records each request; every recorded
request is then checked against the document: method and path template, query parameters, and body.
The stub's canned answers are checked too, so the client is tested against realistic responses.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator

from tests import contract
from tests.test_zoom_client import (
    CREATE_BODY,
    HOST,
    MEETING,
    MEETING_ID,
    QPS_MESSAGE,
    UPDATE_BODY,
    USER,
    Canned,
    Seen,
    Stub,
    list_item,
    make_client,
    zoom_error,
)
from zoomstate.clock import FakeClock
from zoomstate.zoom import AmbiguousCreateError, ZoomClient, ZoomCredentials

OPERATIONS = ("meetingCreate", "meeting", "meetings", "meetingUpdate", "meetingDelete", "user")
BODY_OPERATIONS = {"meetingCreate", "meetingUpdate"}

# Realistic bodies beyond the weekly one: daily with an occurrence count, monthly by day and by week.
MORE_CREATE_BODIES: list[dict[str, Any]] = [
    {
        **CREATE_BODY,
        "topic": "Daily Standup",
        "duration": 15,
        "recurrence": {"type": 1, "repeat_interval": 1, "end_times": 20},
    },
    {
        **CREATE_BODY,
        "topic": "Monthly Review",
        "password": "Ab1@-_*",
        "recurrence": {"type": 3, "repeat_interval": 1, "monthly_day": 15, "end_times": 12},
    },
    {
        **CREATE_BODY,
        "topic": "Last-Friday Retro",
        "agenda": "Retro of the month",
        "recurrence": {
            "type": 3,
            "repeat_interval": 1,
            "monthly_week": -1,
            "monthly_week_day": 6,
            "end_date_time": "2027-12-31T04:59:59Z",
        },
    },
]


@pytest.fixture(autouse=True)
def _spec() -> None:
    contract.require_spec()


def operation_routes() -> dict[str, tuple[str, re.Pattern[str], dict[str, dict]]]:
    """operationId -> (method, path regex under /v2, query parameter schemas)."""
    routes = {}
    for template, item in contract.load_spec()["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or operation.get("operationId") not in OPERATIONS:
                continue
            pattern = re.compile("^/v2" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            query = {
                p["name"]: p.get("schema", {})
                for p in operation.get("parameters", [])
                if isinstance(p, dict) and p.get("in") == "query"
            }
            routes[operation["operationId"]] = (method.upper(), pattern, query)
    return routes


def operation_of(seen: Seen, routes: dict) -> str:
    matches = [op for op, (method, pattern, _) in routes.items() if method == seen.method and pattern.match(seen.path)]
    assert len(matches) == 1, f"{seen.method} {seen.path} matches {matches or 'no operation'} in the document"
    return matches[0]


def typed(value: str, schema: dict) -> Any:
    """Query strings are text; give them the type the document declares before validating."""
    if schema.get("type") == "integer":
        return int(value)
    if schema.get("type") == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def check_requests(stub: Stub) -> list[str]:
    """Validate every API request the stub recorded; returns their operationIds in order."""
    routes = operation_routes()
    seen_ops = []
    for seen in stub.api_requests:
        operation = operation_of(seen, routes)
        seen_ops.append(operation)
        query_schemas = routes[operation][2]
        for name, value in seen.query.items():
            assert name in query_schemas, f"{operation}: query parameter {name!r} is not in the document"
            schema = {k: v for k, v in query_schemas[name].items() if k != "example"}
            errors = list(Draft7Validator(schema).iter_errors(typed(value, schema)))
            assert not errors, f"{operation}: {name}={value!r}: {errors[0].message}"
        if operation in BODY_OPERATIONS:
            contract.validate_request(operation, seen.body)
            assert seen.headers.get("Content-Type", "").startswith("application/json")
        else:
            assert seen.body is None, f"{operation} must not send a body"
    return seen_ops


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


def test_every_call_sends_what_the_document_describes(stub: Stub):
    clock = FakeClock()
    zoom = make_client(stub, clock)
    stub.api = [
        Canned(200, USER),
        Canned(201, MEETING),
        *[
            Canned(201, {**MEETING, "id": MEETING_ID + n, "topic": b["topic"]})
            for n, b in enumerate(MORE_CREATE_BODIES, 1)
        ],
        Canned(
            200,
            {
                "page_size": 300,
                "total_records": 2,
                "next_page_token": "tokA",
                "meetings": [list_item(1, "A")],
            },
        ),
        Canned(
            200,
            {"page_size": 300, "total_records": 2, "next_page_token": "", "meetings": [list_item(2, "B")]},
        ),
        Canned(200, MEETING),
        Canned(204),
        Canned(204),
    ]
    zoom.get_user(HOST)
    zoom.create_meeting(HOST, copy.deepcopy(CREATE_BODY))
    for body in MORE_CREATE_BODIES:
        zoom.create_meeting(HOST, copy.deepcopy(body))
    zoom.list_meetings(HOST)
    zoom.get_meeting(MEETING_ID)
    zoom.update_meeting(MEETING_ID, copy.deepcopy(UPDATE_BODY))
    assert zoom.delete_meeting(MEETING_ID) is True
    zoom.close()
    assert check_requests(stub) == [
        "user",
        "meetingCreate",
        *["meetingCreate"] * len(MORE_CREATE_BODIES),
        "meetings",
        "meetings",
        "meeting",
        "meetingUpdate",
        "meetingDelete",
    ]


def test_replayed_and_failed_requests_keep_valid_bodies(stub: Stub):
    clock = FakeClock()
    zoom = make_client(stub, clock)
    stub.api = [
        zoom_error(401, 124, "Access token is expired."),
        Canned(429, {"code": 429, "message": QPS_MESSAGE}, {"Retry-After": "1", "X-RateLimit-Type": "QPS"}),
        Canned(201, MEETING),
        zoom_error(500, 500, "Internal Error"),
        zoom_error(401, 124, "Access token is expired."),
        Canned(204),
    ]
    zoom.create_meeting(HOST, copy.deepcopy(CREATE_BODY))
    with pytest.raises(AmbiguousCreateError):
        zoom.create_meeting(HOST, copy.deepcopy(CREATE_BODY))
    zoom.update_meeting(MEETING_ID, copy.deepcopy(UPDATE_BODY))
    zoom.close()
    ops = check_requests(stub)
    assert ops == ["meetingCreate"] * 4 + ["meetingUpdate"] * 2
    creates = [s.body for s in stub.api_requests if s.method == "POST"]
    assert all(body == CREATE_BODY for body in creates)  # replays resend the same body


def test_canned_answers_match_the_document():
    contract.validate_response("meetingCreate", 201, MEETING)
    contract.validate_response("meeting", 200, MEETING)
    contract.validate_response("user", 200, USER)
    page = {"page_size": 300, "total_records": 2, "next_page_token": "", "meetings": [list_item(1, "A")]}
    contract.validate_response("meetings", 200, page)
    contract.validate_response("meetingUpdate", 204, None)
    contract.validate_response("meetingDelete", 204, None)
    contract.validate_error({"code": 3001, "message": f"Meeting {MEETING_ID} is not found or has expired."})
    contract.validate_error(
        {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": "topic", "message": "Invalid field."}],
        }
    )


def test_contract_catches_a_bad_body():
    # Guards the guard: a wrong type must be reported, or the checks above would prove nothing.
    bad = {**CREATE_BODY, "duration": "45 minutes", "recurrence": {"type": 2, "weekly_days": 2}}
    with pytest.raises(AssertionError, match="duration"):
        contract.validate_request("meetingCreate", bad)


def _sandbox_class() -> Any:
    try:
        from zoomstate.sandbox import Sandbox
    except ImportError:
        return None
    return Sandbox


@pytest.mark.skipif(_sandbox_class() is None, reason="zoomstate.sandbox.Sandbox is not available")
def test_bodies_sent_to_the_sandbox_match_the_document():
    sandbox_class = _sandbox_class()
    clock = FakeClock()
    with sandbox_class(users=["a@x.com"], clock=clock) as sb:
        creds = ZoomCredentials(sb.account_id, sb.client_id, sb.client_secret)
        zoom = ZoomClient(creds, api_url=sb.api_url, oauth_url=sb.oauth_url, clock=clock)
        ids = [zoom.create_meeting("a@x.com", copy.deepcopy(b))["id"] for b in [CREATE_BODY, *MORE_CREATE_BODIES]]
        zoom.update_meeting(ids[0], copy.deepcopy(UPDATE_BODY))
        zoom.list_meetings("a@x.com")
        zoom.delete_meeting(ids[-1])
        zoom.close()
        records = [r for r in sb.requests if "oauth" not in r.route]
    sent = {"POST": "meetingCreate", "PATCH": "meetingUpdate"}
    checked = 0
    for record in records:
        if record.method in sent:
            contract.validate_request(sent[record.method], record.body)
            checked += 1
        else:
            assert record.body is None
    assert checked == len(MORE_CREATE_BODIES) + 2


def test_occurrence_calls_send_what_the_document_describes(stub: Stub):
    """PATCH and DELETE with occurrence_id: the query parameters and the body the document declares."""
    zoom = make_client(stub, FakeClock())
    stub.api = [Canned(204), Canned(204), Canned(204)]
    zoom.update_occurrence(MEETING_ID, "1801756800000", {"start_time": "2027-02-08T15:00:00Z", "duration": 30,
                                                          "agenda": "Quarter review"})
    zoom.cancel_occurrence(MEETING_ID, "1802361600000")
    zoom.cancel_occurrence(MEETING_ID, "1802966400000", notify=True)
    zoom.close()
    assert check_requests(stub) == ["meetingUpdate", "meetingDelete", "meetingDelete"]
    queries = [s.query for s in stub.api_requests]
    assert queries == [{"occurrence_id": "1801756800000"},
                       {"occurrence_id": "1802361600000", "cancel_meeting_reminder": "false"},
                       {"occurrence_id": "1802966400000", "cancel_meeting_reminder": "true"}]
