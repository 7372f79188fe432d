"""Contract tests: what the sandbox answers must match Zoom's published OpenAPI document, and the
requests these tests send must be valid by it too. Also checks the contract helper itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests import contract
from zoomstate.clock import FakeClock
from zoomstate.sandbox import Sandbox

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
HOST = "alice@example.com"
REPO = Path(__file__).resolve().parent.parent

CREATE_BODIES = {
    "weekly": {
        "topic": "Team Sync", "type": 8, "start_time": "2027-01-05T09:00:00", "timezone": "America/New_York",
        "duration": 45, "agenda": "Planning",
        "recurrence": {"type": 2, "weekly_days": "2,4", "repeat_interval": 1, "end_times": 10},
        "settings": {"waiting_room": True, "join_before_host": True, "mute_upon_entry": True, "audio": "voip",
                     "auto_recording": "cloud", "approval_type": 2},
    },
    "monthly-last-friday-with-registration": {
        "topic": "Review", "type": 8, "start_time": "2027-01-05T18:00:00", "timezone": "Europe/Berlin",
        "password": "a1@-_*", "tracking_fields": [{"field": "team", "value": "core"}],
        "recurrence": {"type": 3, "monthly_week": -1, "monthly_week_day": 6, "end_date_time": "2027-06-30T21:59:00Z"},
        "settings": {"approval_type": 0, "registration_type": 2, "alternative_hosts": "bob@example.com"},
    },
    "monthly-day-31": {
        "topic": "Month end", "type": 8, "start_time": "2027-01-31T10:00:00Z", "timezone": "UTC",
        "recurrence": {"type": 3, "monthly_day": 31, "repeat_interval": 1, "end_times": 6},
    },
    "daily": {
        "topic": "Stand-up", "type": 8, "start_time": "2027-01-05T08:30:00", "timezone": "Asia/Tokyo",
        "duration": 15, "recurrence": {"type": 1, "repeat_interval": 2, "end_date_time": "2027-02-01T14:59:00Z"},
    },
    "scheduled": {"topic": "One-off", "type": 2, "start_time": "2027-02-01T15:00:00Z", "duration": 30},
    "no-fixed-time": {"topic": "Open room", "type": 3, "agenda": "x" * 300},
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sb(clock):
    with Sandbox(users=[HOST], clock=clock, rate_limits=False) as sandbox:
        yield sandbox


@pytest.fixture
def session(sb):
    with requests.Session() as http:
        token = http.post(sb.oauth_url, auth=(sb.client_id, sb.client_secret), timeout=5,
                          params={"grant_type": "account_credentials", "account_id": sb.account_id}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield http


# -------------------------------------------------------------------------------- sandbox answers


@pytest.mark.parametrize("name", sorted(CREATE_BODIES))
def test_create_and_get_match_the_spec(sb, session, name):
    body = CREATE_BODIES[name]
    contract.validate_request("meetingCreate", body)
    created = session.post(f"{sb.api_url}/users/{HOST}/meetings", json=body, timeout=5)
    assert created.status_code == 201, created.text
    contract.validate_response("meetingCreate", 201, created.json())
    meeting_id = created.json()["id"]
    for params in ({}, {"show_previous_occurrences": "true"}):
        got = session.get(f"{sb.api_url}/meetings/{meeting_id}", params=params, timeout=5)
        assert got.status_code == 200
        contract.validate_response("meeting", 200, got.json())


def test_list_pages_match_the_spec(sb, session):
    for name, body in CREATE_BODIES.items():
        for n in range(3):
            sb.create_out_of_band(HOST, {**body, "topic": f"{name} {n}"})
    token, pages = "", 0
    while True:
        params = {"page_size": 5, **({"next_page_token": token} if token else {})}
        page = session.get(f"{sb.api_url}/users/{HOST}/meetings", params=params, timeout=5)
        assert page.status_code == 200
        contract.validate_response("meetings", 200, page.json())
        pages += 1
        token = page.json()["next_page_token"]
        if not token:
            break
    assert pages == 4  # 18 meetings, 5 a page


def test_user_matches_the_spec(sb, session):
    answer = session.get(f"{sb.api_url}/users/{HOST}", timeout=5)
    assert answer.status_code == 200
    contract.validate_response("user", 200, answer.json())


def test_patch_and_delete_answer_204_without_a_body(sb, session):
    meeting = session.post(f"{sb.api_url}/users/{HOST}/meetings", json=CREATE_BODIES["weekly"], timeout=5).json()
    patch = {"topic": "Moved", "start_time": "2027-01-12T10:00:00", "timezone": "America/New_York",
             "recurrence": {"type": 2, "weekly_days": "3,5", "end_times": 8}, "settings": {"watermark": True}}
    contract.validate_request("meetingUpdate", patch)
    patched = session.patch(f"{sb.api_url}/meetings/{meeting['id']}", json=patch, timeout=5)
    assert patched.status_code == 204
    contract.validate_response("meetingUpdate", 204, patched.content)
    got = session.get(f"{sb.api_url}/meetings/{meeting['id']}", timeout=5).json()
    contract.validate_response("meeting", 200, got)
    deleted = session.delete(f"{sb.api_url}/meetings/{meeting['id']}", timeout=5)
    assert deleted.status_code == 204
    contract.validate_response("meetingDelete", 204, deleted.content)


def test_error_bodies_have_zooms_shape(sb, session):
    answers = [
        session.get(f"{sb.api_url}/meetings/123", timeout=5),
        session.get(f"{sb.api_url}/users/nobody@example.com", timeout=5),
        session.post(f"{sb.api_url}/users/{HOST}/meetings", json={"type": 8, "recurrence": {}}, timeout=5),
        session.post(f"{sb.api_url}/users/{HOST}/meetings", data=b"nope", timeout=5),
        requests.get(f"{sb.api_url}/users/{HOST}", timeout=5),
    ]
    assert [a.status_code for a in answers] == [404, 404, 400, 400, 401]
    for answer in answers:
        contract.validate_error(answer.json())


def test_zoom_like_answers_and_the_extra_routes_match_the_spec(sb, session):
    """With every Zoom-like switch on, and on the users and registrants routes, answers still follow the
    document (bodies without start_time, create answers without start_time/duration, lists without agenda)."""
    sb.zoom_like(get_without_start_time=True, create_without_schedule=True, list_without_agenda=True,
                 pages_without_page_count=True, locked_settings={"auto_recording": "none"})
    body = {**CREATE_BODIES["monthly-last-friday-with-registration"], "topic": "Zoom-like"}
    created = session.post(f"{sb.api_url}/users/me/meetings", json=body, timeout=5)
    assert created.status_code == 201, created.text
    contract.validate_response("meetingCreate", 201, created.json())
    meeting_id = created.json()["id"]
    contract.validate_response("meeting", 200, session.get(f"{sb.api_url}/meetings/{meeting_id}", timeout=5).json())
    contract.validate_response("meetings", 200, session.get(f"{sb.api_url}/users/{HOST}/meetings", timeout=5).json())
    contract.validate_response("users", 200, session.get(f"{sb.api_url}/users", timeout=5).json())
    registrant = {"email": "pat@example.com", "first_name": "Pat", "last_name": "Lee"}
    contract.validate_request("meetingRegistrantCreate", registrant)
    added = session.post(f"{sb.api_url}/meetings/{meeting_id}/registrants", json=registrant, timeout=5)
    assert added.status_code == 201, added.text
    contract.validate_response("meetingRegistrantCreate", 201, added.json())
    listed = session.get(f"{sb.api_url}/meetings/{meeting_id}/registrants", timeout=5)
    contract.validate_response("meetingRegistrants", 200, listed.json())
    sb.zoom_like(user_read_scope=False)
    scope = session.get(f"{sb.api_url}/users/me", timeout=5)
    assert scope.status_code == 400
    contract.validate_error(scope.json())


# ------------------------------------------------------------------------------ the helper itself


def test_weekly_days_enum_is_removed_everywhere():
    schemas = [contract.request_schema("meetingCreate"), contract.request_schema("meetingUpdate"),
               contract.response_schema("meetingCreate", 201), contract.response_schema("meeting", 200)]
    for schema in schemas:
        weekly_days = schema["properties"]["recurrence"]["properties"]["weekly_days"]
        assert weekly_days["type"] == "string" and "enum" not in weekly_days
    contract.validate_request("meetingCreate", {"type": 8, "recurrence": {"type": 2, "weekly_days": "2,4"}})


def test_schemas_are_plain_json_schema():
    text = json.dumps([contract.request_schema("meetingCreate"), contract.response_schema("user", 200),
                       contract.response_schema("meetings", 200)])
    assert '"$ref"' not in text
    for keyword in ('"example":', '"extensions":', '"x-enum-descriptions":', '"deprecated":'):
        assert keyword not in text
    # Copies: a caller changing one cannot poison the cache.
    contract.request_schema("meetingCreate")["properties"].clear()
    assert contract.request_schema("meetingCreate")["properties"]


def test_violations_are_all_listed():
    with pytest.raises(AssertionError) as caught:
        contract.validate_request("meetingCreate", {"topic": 5, "type": 9, "recurrence": {"weekly_days": "2"},
                                                    "settings": {"audio": "loud"}})
    message = str(caught.value)
    for where in ("topic", "type", "recurrence", "settings.audio"):
        assert f"- {where}:" in message
    with pytest.raises(AssertionError, match="start_time"):
        contract.validate_response("meeting", 200, {"id": 1, "start_time": "2027-01-05T09:00:00"})
    with pytest.raises(AssertionError, match="no body"):
        contract.validate_response("meetingDelete", 204, {"unexpected": True})
    with pytest.raises(AssertionError, match="not documented"):
        contract.validate_response("meetingDelete", 418, None)
    with pytest.raises(AssertionError, match="code"):
        contract.validate_error({"message": "x"})


def test_local_start_time_is_a_valid_request():
    contract.validate_request("meetingCreate", {"start_time": "2027-01-05T09:00:00", "timezone": "UTC"})
    with pytest.raises(AssertionError):
        contract.validate_request("meetingCreate", {"start_time": "next tuesday"})


def test_spec_is_loaded_once():
    assert contract.load_spec() is contract.load_spec()


def test_missing_spec_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOOMSTATE_SHARED_DIR", str(tmp_path))
    assert not contract.spec_available()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="contract tests need the shared folder"):
        contract.require_spec()
    monkeypatch.setenv("CI", "0")
    with pytest.raises(pytest.skip.Exception):
        contract.request_schema("meetingCreate")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        contract.require_spec()


def test_shared_dir_can_be_pointed_elsewhere(monkeypatch, tmp_path):
    contract.require_spec()  # the copy needs the real document: skip without it (fail in CI)
    real = contract.spec_path()
    (tmp_path / "zoom-api").mkdir()
    (tmp_path / "zoom-api" / contract.SPEC_NAME).write_bytes(real.read_bytes())
    monkeypatch.setenv("ZOOMSTATE_SHARED_DIR", str(tmp_path))
    assert contract.spec_path() == tmp_path / "zoom-api" / contract.SPEC_NAME
    assert contract.load_spec()["openapi"].startswith("3.")


CONTRACT_FILES = ("tests/test_sandbox_contract.py", "tests/test_zoom_contract.py")
SELF = "test_contract_files_skip_without_the_shared_folder_and_fail_in_ci"


def _run_contract_files(shared: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ZOOMSTATE_SHARED_DIR"] = str(shared)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-k", f"not {SELF}",
         *CONTRACT_FILES],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_contract_files_skip_without_the_shared_folder_and_fail_in_ci(tmp_path):
    # A user's clone has no ../shared: the README's test command must pass there, every contract test
    # skipping with the helper's message; in CI the same absence must fail loudly.
    local = _run_contract_files(tmp_path, None)
    assert local.returncode == 0, local.stdout + local.stderr
    summary = local.stdout.strip().splitlines()[-1]
    assert "failed" not in summary and "error" not in summary and "skipped" in summary, summary
    assert "contract tests need the shared folder beside the repo" in local.stdout

    in_ci = _run_contract_files(tmp_path, "true")
    assert in_ci.returncode == 1, in_ci.stdout + in_ci.stderr
    assert "contract tests must not skip in CI" in in_ci.stdout


def test_occurrence_patch_and_delete_match_the_spec(sb, session):
    """PATCH ?occurrence_id= moves one occurrence and counts as a daily write; DELETE ?occurrence_id= marks it
    deleted and does not count; the GET after both still matches the document."""
    created = session.post(f"{sb.api_url}/users/{HOST}/meetings", json=CREATE_BODIES["weekly"], timeout=5).json()
    url = f"{sb.api_url}/meetings/{created['id']}"
    first, second, third = (o["occurrence_id"] for o in created["occurrences"][:3])
    body = {"start_time": "2027-01-05T15:30:00Z", "duration": 30, "agenda": "Moved"}
    contract.validate_request("meetingUpdate", body)
    moved = session.patch(url, params={"occurrence_id": first}, json=body, timeout=5)
    assert moved.status_code == 204 and moved.content == b""
    assert moved.headers.get("X-RateLimit-Remaining") is not None
    remaining = int(moved.headers["X-RateLimit-Remaining"])
    cancelled = session.delete(url, params={"occurrence_id": second, "cancel_meeting_reminder": "false"}, timeout=5)
    assert cancelled.status_code == 204 and cancelled.content == b""
    again = session.delete(url, params={"occurrence_id": second}, timeout=5)
    assert again.status_code == 400 and again.json()["code"] == 3000  # already cancelled
    bad = session.patch(url, params={"occurrence_id": second}, json={"duration": 20}, timeout=5)
    assert bad.status_code == 400 and bad.json()["code"] == 3000  # a cancelled occurrence cannot change
    wrong = session.patch(url, params={"occurrence_id": third}, json={"topic": "No"}, timeout=5)
    assert wrong.status_code == 400 and wrong.json()["code"] == 300
    later = session.patch(url, params={"occurrence_id": third}, json={"duration": 50}, timeout=5)
    assert int(later.headers["X-RateLimit-Remaining"]) == remaining - 1  # the DELETEs took none of the 100
    got = session.get(url, timeout=5).json()
    contract.validate_response("meeting", 200, got)
    by_id = {o["occurrence_id"]: o for o in got["occurrences"]}
    assert by_id[first]["start_time"] == "2027-01-05T15:30:00Z" and by_id[first]["duration"] == 30
    assert by_id[second]["status"] == "deleted"
    assert by_id[third]["duration"] == 50 and by_id[third]["status"] == "available"
    one = session.get(url, params={"occurrence_id": first}, timeout=5).json()
    assert one["start_time"] == "2027-01-05T15:30:00Z" and one["duration"] == 30
