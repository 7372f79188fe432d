"""The sandbox Zoom over real HTTP on 127.0.0.1: OAuth, routes, validation, occurrences, limits, faults,
persistence and the serve command. A fake clock drives token expiry, rate-limit windows and "now"."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from zoomstate.clock import FakeClock
from zoomstate.sandbox import Faults, Sandbox, add_serve_arguments, run_serve

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # a Monday
HOST, OTHER = "alice@example.com", "bob@example.com"
ROOT = Path(__file__).resolve().parents[1]


def weekly_body(**changes) -> dict:
    body = {
        "topic": "Team Sync",
        "type": 8,
        "start_time": "2027-01-05T09:00:00",
        "timezone": "America/New_York",
        "duration": 45,
        "agenda": "Weekly planning",
        "recurrence": {"type": 2, "weekly_days": "3", "end_times": 5},
    }
    body.update(changes)
    return body


class Api:
    """A tiny authenticated client for the tests: one keep-alive session, one token."""

    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.session = requests.Session()
        self.token = self.new_token()

    def new_token(self) -> str:
        answer = self.session.post(self.sb.oauth_url, auth=(self.sb.client_id, self.sb.client_secret),
                                   params={"grant_type": "account_credentials", "account_id": self.sb.account_id},
                                   timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"]

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.sb.api_url + path, headers=headers, **kwargs)

    def create(self, body: dict, host: str = HOST) -> requests.Response:
        return self.call("POST", f"/users/{host}/meetings", json=body)

    def created(self, body: dict, host: str = HOST) -> dict:
        answer = self.create(body, host)
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sb(clock):
    with Sandbox(users=[HOST, OTHER], clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def api(sb):
    client = Api(sb)
    yield client
    client.session.close()


def starts(meeting: dict) -> list[str]:
    return [o["start_time"] for o in meeting["occurrences"]]


# ------------------------------------------------------------------------------------------- OAuth


def test_token_success_in_query_or_form_and_earlier_tokens_stay_valid(sb, api):
    first = api.token
    answer = requests.post(sb.oauth_url, auth=(sb.client_id, sb.client_secret), timeout=5,
                           data={"grant_type": "account_credentials", "account_id": sb.account_id})
    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    assert token["api_url"] == sb.base_url
    scopes = token["scope"].split(" ")
    for scope in ("meeting:write:meeting:admin", "meeting:read:meeting:admin", "meeting:read:list_meetings:admin",
                  "meeting:update:meeting:admin", "meeting:delete:meeting:admin", "user:read:user:admin"):
        assert scope in scopes
    assert token["access_token"] != first and sb.issued_tokens == [first, token["access_token"]]
    assert api.call("GET", f"/users/{HOST}", token=first).status_code == 200
    assert api.call("GET", f"/users/{HOST}", token=token["access_token"]).status_code == 200


@pytest.mark.parametrize(
    ("auth", "params", "error"),
    [
        (("sandbox-client", "wrong"), {"grant_type": "account_credentials", "account_id": "sandbox-account"},
         {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        (None, {"grant_type": "account_credentials", "account_id": "sandbox-account"},
         {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
        (("sandbox-client", "sandbox-secret"), {"grant_type": "client_credentials", "account_id": "sandbox-account"},
         {"reason": "unsupported grant type", "error": "unsupported_grant_type"}),
        (("sandbox-client", "sandbox-secret"), {"grant_type": "account_credentials", "account_id": "other"},
         {"reason": "Invalid account_id", "error": "invalid_request"}),
    ],
)
def test_token_errors_use_the_oauth_body(sb, auth, params, error):
    answer = requests.post(sb.oauth_url, auth=auth, params=params, timeout=5)
    assert answer.status_code == 400
    assert answer.json() == error
    assert sb.issued_tokens == []


def test_previous_tokens_can_be_revoked_when_switched_on(clock):
    with Sandbox(users=[HOST], clock=clock, revoke_previous_tokens=True) as sandbox:
        api = Api(sandbox)
        first = api.token
        api.token = api.new_token()
        assert api.call("GET", f"/users/{HOST}").status_code == 200
        assert api.call("GET", f"/users/{HOST}", token=first).json()["code"] == 124


def test_api_needs_a_valid_unexpired_token(sb, api, clock):
    bare = requests.get(f"{sb.api_url}/users/{HOST}", timeout=5)
    assert bare.status_code == 401
    assert bare.json() == {"code": 124, "message": "Invalid access token."}
    assert api.call("GET", f"/users/{HOST}", token="not-a-token").json() == {
        "code": 124, "message": "Invalid access token."}
    clock.advance(3599)
    assert api.call("GET", f"/users/{HOST}").status_code == 200
    clock.advance(1)
    expired = api.call("GET", f"/users/{HOST}")
    assert expired.status_code == 401
    assert expired.json() == {"code": 124, "message": "Access token is expired."}
    assert api.token not in expired.text


# ------------------------------------------------------------------------------------------- users


def test_get_user_by_email_or_id_and_unknown_user(sb, api):
    user = api.call("GET", f"/users/{HOST}").json()
    assert user["email"] == HOST and user["status"] == "active" and user["account_id"] == sb.account_id
    assert isinstance(user["pmi"], int) and user["type"] == 2
    assert api.call("GET", f"/users/{user['id']}").json()["email"] == HOST
    assert api.call("GET", "/users/ALICE@example.com").json()["id"] == user["id"]
    missing = api.call("GET", "/users/nobody@example.com")
    assert missing.status_code == 404
    assert missing.json() == {"code": 1001, "message": "User does not exist: nobody@example.com."}
    for method, path in (("POST", "/users/nobody@example.com/meetings"), ("GET", "/users/nobody@example.com/meetings")):
        answer = api.call(method, path, json=weekly_body() if method == "POST" else None)
        assert (answer.status_code, answer.json()["code"]) == (404, 1001)


def test_auto_create_users_creates_hosts_on_first_use(clock):
    with Sandbox(clock=clock, auto_create_users=True) as sandbox:
        api = Api(sandbox)
        assert api.created(weekly_body(), host="new.person@example.com")["host_email"] == "new.person@example.com"
        user = api.call("GET", "/users/new.person@example.com").json()
        assert (user["first_name"], user["last_name"]) == ("New", "Person")
        assert sandbox.add_user("new.person@example.com")["id"] == user["id"]


# ---------------------------------------------------------------------------------------- meetings


def test_create_returns_zooms_meeting_object(api):
    meeting = api.created(weekly_body(settings={"waiting_room": True, "join_before_host": True}))
    assert isinstance(meeting["id"], int) and 10 <= len(str(meeting["id"])) <= 11
    assert meeting["uuid"] and meeting["host_id"] and meeting["host_email"] == HOST
    assert meeting["topic"] == "Team Sync" and meeting["type"] == 8 and meeting["duration"] == 45
    assert meeting["timezone"] == "America/New_York" and meeting["agenda"] == "Weekly planning"
    assert meeting["start_time"] == "2027-01-05T14:00:00Z"  # a Tuesday (weekly_days "3"), 09:00 in New York
    assert meeting["created_at"] == "2027-01-04T12:00:00Z"
    assert re.fullmatch(r"[A-Za-z0-9]{6,10}", meeting["password"])
    assert meeting["h323_password"].isdigit() and meeting["pstn_password"].isdigit()
    assert meeting["join_url"] == f"https://zoom.us/j/{meeting['id']}?pwd={meeting['encrypted_password']}"
    assert "zak=" in meeting["start_url"]
    assert meeting["pre_schedule"] is False
    assert meeting["recurrence"] == {"type": 2, "weekly_days": "3", "end_times": 5, "repeat_interval": 1}
    settings = meeting["settings"]
    # Kept as sent: recorded Zoom bodies hold both (the documented rule is a Zoom-like switch, tested below).
    assert settings["waiting_room"] is True and settings["join_before_host"] is True
    assert settings["approval_type"] == 2 and settings["registration_type"] == 1 and settings["audio"] == "both"
    assert "registration_url" not in meeting
    assert len(meeting["occurrences"]) == 5


def test_registration_url_only_with_registration(api):
    with_registration = api.created(weekly_body(settings={"approval_type": 0}))
    assert re.fullmatch(r"https://zoom\.us/meeting/register/[\w-]+", with_registration["registration_url"])
    assert "registration_url" not in api.created(weekly_body(settings={"approval_type": 2}))


def test_given_password_is_kept_and_utc_start_is_read_as_utc(api):
    meeting = api.created(weekly_body(password="abc@1_-*", start_time="2027-01-05T15:30:00Z"))
    assert meeting["password"] == "abc@1_-*"
    assert meeting["start_time"] == "2027-01-05T15:30:00Z"


def test_scheduled_meeting_without_start_becomes_instant_and_is_not_listed(api):
    meeting = api.created({"topic": "Now", "type": 2})
    assert meeting["type"] == 1 and meeting["start_time"] == "2027-01-04T12:00:00Z"
    assert api.call("GET", f"/users/{HOST}/meetings").json()["total_records"] == 0


def test_get_patch_delete_lifecycle(api, sb):
    meeting = api.created(weekly_body(settings={"mute_upon_entry": True, "approval_type": 1}))
    path = f"/meetings/{meeting['id']}"
    got = api.call("GET", path).json()
    assert got["status"] == "waiting" and got["uuid"] == meeting["uuid"] and got["host_id"] == meeting["host_id"]
    assert got["settings"]["mute_upon_entry"] is True

    patch = {"topic": "Renamed", "recurrence": {"type": 1, "repeat_interval": 2, "end_times": 3},
             "settings": {"watermark": True}}
    answer = api.call("PATCH", path, json=patch)
    assert answer.status_code == 204 and answer.content == b""
    got = api.call("GET", path).json()
    assert got["topic"] == "Renamed"
    assert got["recurrence"] == {"type": 1, "repeat_interval": 2, "end_times": 3}  # replaced whole
    assert got["settings"]["watermark"] is True and got["settings"]["mute_upon_entry"] is True  # merged
    assert starts(got) == ["2027-01-05T14:00:00Z", "2027-01-07T14:00:00Z", "2027-01-09T14:00:00Z"]

    # A past start_time is ignored; a future one moves the series.
    api.call("PATCH", path, json={"start_time": "2026-06-01T09:00:00"})
    assert api.call("GET", path).json()["start_time"] == "2027-01-05T14:00:00Z"
    api.call("PATCH", path, json={"start_time": "2027-02-01T08:00:00", "settings": {"approval_type": 2}})
    got = api.call("GET", path).json()
    assert got["start_time"] == "2027-02-01T13:00:00Z" and "registration_url" not in got

    assert api.call("DELETE", path).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        gone = api.call(method, path, json={"topic": "x"} if method == "PATCH" else None)
        assert gone.status_code == 404
        assert gone.json() == {"code": 3001, "message": f"Meeting {meeting['id']} is not found or has expired."}
    assert sb.meeting(meeting["id"]) is None


def test_patch_type_and_timezone(api):
    meeting = api.created(weekly_body())
    path = f"/meetings/{meeting['id']}"
    api.call("PATCH", path, json={"timezone": "Europe/Berlin"})
    got = api.call("GET", path).json()
    assert got["timezone"] == "Europe/Berlin" and got["start_time"] == "2027-01-05T14:00:00Z"
    api.call("PATCH", path, json={"type": 2, "start_time": "2027-03-01T10:00:00"})
    got = api.call("GET", path).json()
    assert got["type"] == 2 and "recurrence" not in got and "occurrences" not in got
    assert got["start_time"] == "2027-03-01T09:00:00Z"
    refused = api.call("PATCH", path, json={"type": 8})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "recurrence"


def test_delete_one_occurrence_marks_it_deleted(api):
    meeting = api.created(weekly_body())
    first = meeting["occurrences"][0]["occurrence_id"]
    path = f"/meetings/{meeting['id']}"
    assert api.call("DELETE", path, params={"occurrence_id": first}).status_code == 204
    got = api.call("GET", path).json()
    assert got["occurrences"][0]["status"] == "deleted"
    assert got["start_time"] == got["occurrences"][1]["start_time"]
    bad = api.call("DELETE", path, params={"occurrence_id": "123"})
    assert (bad.status_code, bad.json()["code"]) == (400, 3000)


def test_list_has_only_list_fields_and_cuts_the_agenda(api):
    meeting = api.created(weekly_body(agenda="x" * 400))
    page = api.call("GET", f"/users/{HOST}/meetings").json()
    assert page["page_size"] == 30 and page["total_records"] == 1 and page["next_page_token"] == ""
    assert page["page_count"] == 1 and page["page_number"] == 1
    item = page["meetings"][0]
    assert set(item) == {"uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda",
                         "created_at", "join_url"}
    assert item["id"] == meeting["id"] and item["agenda"] == "x" * 250
    assert api.call("GET", f"/users/{OTHER}/meetings").json()["meetings"] == []
    assert api.call("GET", f"/users/{HOST}/meetings", params={"type": "upcoming"}).json()["total_records"] == 1
    assert api.call("GET", f"/users/{HOST}/meetings", params={"type": "previous_meetings"}).json()["meetings"] == []
    bad = api.call("GET", f"/users/{HOST}/meetings", params={"type": "everything"})
    assert (bad.status_code, bad.json()["code"]) == (400, 300)


def test_pagination_over_650_meetings(sb, api, clock):
    for n in range(650):
        sb.create_out_of_band(HOST, weekly_body(topic=f"Meeting {n}", recurrence={"type": 2, "end_times": 1}))
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        params = {"page_size": 1000}  # over the maximum: Zoom answers pages of 300
        if token:
            params["next_page_token"] = token
        page = api.call("GET", f"/users/{HOST}/meetings", params=params).json()
        pages += 1
        assert page["page_size"] == 300 and page["total_records"] == 650 and page["page_count"] == 3
        assert page["page_number"] == pages
        seen += [m["id"] for m in page["meetings"]]
        token = page["next_page_token"]
        if not token:
            break
    assert pages == 3 and len(seen) == 650 and len(set(seen)) == 650
    assert sorted(seen) == sorted(m["id"] for m in sb.meetings())

    first = api.call("GET", f"/users/{HOST}/meetings", params={"page_size": 300}).json()
    clock.advance(16 * 60)  # next_page_token lives 15 minutes
    stale = api.call("GET", f"/users/{HOST}/meetings", params={"next_page_token": first["next_page_token"]})
    assert (stale.status_code, stale.json()["code"]) == (400, 300)


# -------------------------------------------------------------------------------------- validation


def test_validation_reports_every_problem_with_code_300(api):
    body = weekly_body(
        topic="t" * 201, password="bad!password", duration="45", timezone="Mars/Base",
        recurrence={"type": 2, "weekly_days": "2,8", "repeat_interval": 13, "end_times": 51,
                    "end_date_time": "2027-02-01T00:00:00Z"},
        settings={"audio": "loud", "approval_type": 5, "waiting_room": "yes", "jbh_time": 7},
    )
    answer = api.create(body)
    assert answer.status_code == 400
    error = answer.json()
    assert error["code"] == 300 and error["message"] == "Validation Failed."
    fields = {e["field"] for e in error["errors"]}
    assert fields == {"topic", "password", "duration", "timezone", "recurrence.weekly_days",
                      "recurrence.repeat_interval", "recurrence.end_times", "recurrence.end_date_time",
                      "settings.audio", "settings.approval_type", "settings.waiting_room", "settings.jbh_time"}
    assert all(e["message"] for e in error["errors"])
    assert api.call("GET", f"/users/{HOST}/meetings").json()["total_records"] == 0


@pytest.mark.parametrize(
    ("recurrence", "field"),
    [
        ({}, "recurrence.type"),
        ({"type": 4}, "recurrence.type"),
        ({"type": 1, "repeat_interval": 91}, "recurrence.repeat_interval"),
        ({"type": 3, "repeat_interval": 4, "monthly_day": 1}, "recurrence.repeat_interval"),
        ({"type": 3, "monthly_day": 32}, "recurrence.monthly_day"),
        ({"type": 3, "monthly_week": 0, "monthly_week_day": 2}, "recurrence.monthly_week"),
        ({"type": 3, "monthly_week": 2}, "recurrence.monthly_week"),
        ({"type": 3, "monthly_week": 2, "monthly_week_day": 8}, "recurrence.monthly_week_day"),
        ({"type": 3, "monthly_day": 3, "monthly_week": 1, "monthly_week_day": 2}, "recurrence.monthly_day"),
        ({"type": 2, "weekly_days": [2, 4]}, "recurrence.weekly_days"),
        ({"type": 2, "weekly_days": "2,,4"}, "recurrence.weekly_days"),
        ({"type": 2, "end_times": 0}, "recurrence.end_times"),
        ({"type": 2, "end_date_time": "2027-02-01T00:00:00"}, "recurrence.end_date_time"),
    ],
)
def test_recurrence_rules(api, recurrence, field):
    answer = api.create(weekly_body(recurrence=recurrence))
    assert answer.status_code == 400 and answer.json()["code"] == 300
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_type_8_needs_a_recurrence(api):
    body = weekly_body()
    del body["recurrence"]
    answer = api.create(body)
    assert answer.status_code == 400 and answer.json()["errors"] == [
        {"field": "recurrence", "message": "Invalid field: required for type 8."}]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", "\u00e9".encode("latin-1")])
def test_body_must_be_a_json_object(sb, api, raw):
    meeting = api.created(weekly_body())
    for method, path in (("POST", f"/users/{HOST}/meetings"), ("PATCH", f"/meetings/{meeting['id']}")):
        headers = {"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"}
        answer = api.session.request(method, sb.api_url + path, data=raw, headers=headers, timeout=5)
        assert answer.status_code == 400
        assert answer.json() == {"code": 300, "message": "Request Body should be a valid JSON object."}


def test_patch_is_validated_too(api):
    meeting = api.created(weekly_body())
    answer = api.call("PATCH", f"/meetings/{meeting['id']}", json={"recurrence": {"type": 2, "weekly_days": "0"}})
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "recurrence.weekly_days"
    assert api.call("GET", f"/meetings/{meeting['id']}").json()["recurrence"]["weekly_days"] == "3"


# ------------------------------------------------------------------------------------- occurrences


def test_weekly_on_two_days(api):
    meeting = api.created(weekly_body(recurrence={"type": 2, "weekly_days": "2,4", "end_times": 4}))
    assert starts(meeting) == ["2027-01-06T14:00:00Z", "2027-01-11T14:00:00Z", "2027-01-13T14:00:00Z",
                               "2027-01-18T14:00:00Z"]
    assert meeting["recurrence"]["weekly_days"] == "2,4"
    for occurrence in meeting["occurrences"]:
        moment = datetime.fromisoformat(occurrence["start_time"].replace("Z", "+00:00"))
        assert occurrence["occurrence_id"] == str(int(moment.timestamp() * 1000))
        assert occurrence["status"] == "available" and occurrence["duration"] == 45


def test_every_other_week_counts_weeks_from_the_start_week(api):
    meeting = api.created(weekly_body(recurrence={"type": 2, "weekly_days": "2", "repeat_interval": 2,
                                                  "end_times": 3}))
    assert starts(meeting) == ["2027-01-18T14:00:00Z", "2027-02-01T14:00:00Z", "2027-02-15T14:00:00Z"]


def test_daily_every_other_day_until_an_inclusive_end(api):
    meeting = api.created(weekly_body(start_time="2027-01-05T07:30:00", timezone="UTC",
                                      recurrence={"type": 1, "repeat_interval": 2,
                                                  "end_date_time": "2027-01-11T07:30:00Z"}))
    assert starts(meeting) == ["2027-01-05T07:30:00Z", "2027-01-07T07:30:00Z", "2027-01-09T07:30:00Z",
                               "2027-01-11T07:30:00Z"]
    assert meeting["recurrence"]["end_date_time"] == "2027-01-11T07:30:00Z"


def test_monthly_day_31_skips_short_months(api):
    meeting = api.created(weekly_body(start_time="2027-01-31T10:00:00", timezone="UTC",
                                      recurrence={"type": 3, "monthly_day": 31, "end_times": 4}))
    assert starts(meeting) == ["2027-01-31T10:00:00Z", "2027-03-31T10:00:00Z", "2027-05-31T10:00:00Z",
                               "2027-07-31T10:00:00Z"]


def test_last_friday_of_the_month(api):
    meeting = api.created(weekly_body(start_time="2027-01-05T18:00:00", timezone="Europe/Berlin",
                                      recurrence={"type": 3, "monthly_week": -1, "monthly_week_day": 6,
                                                  "end_times": 3}))
    assert starts(meeting) == ["2027-01-29T17:00:00Z", "2027-02-26T17:00:00Z", "2027-03-26T17:00:00Z"]


def test_second_tuesday_every_other_month(api):
    meeting = api.created(weekly_body(start_time="2027-01-05T09:00:00", timezone="UTC",
                                      recurrence={"type": 3, "monthly_week": 2, "monthly_week_day": 3,
                                                  "repeat_interval": 2, "end_times": 3}))
    assert starts(meeting) == ["2027-01-12T09:00:00Z", "2027-03-09T09:00:00Z", "2027-05-11T09:00:00Z"]


def test_local_time_is_kept_across_dst(api):
    meeting = api.created(weekly_body(start_time="2027-03-01T09:00:00",
                                      recurrence={"type": 2, "weekly_days": "2", "end_times": 3}))
    # New York moves to daylight time on 2027-03-14: 09:00 local is 14:00Z before and 13:00Z after.
    assert starts(meeting) == ["2027-03-01T14:00:00Z", "2027-03-08T14:00:00Z", "2027-03-15T13:00:00Z"]


def test_utc_start_keeps_utc_time_across_dst(api):
    meeting = api.created(weekly_body(start_time="2027-03-08T14:00:00Z",
                                      recurrence={"type": 2, "weekly_days": "2", "end_times": 2}))
    assert starts(meeting) == ["2027-03-08T14:00:00Z", "2027-03-15T14:00:00Z"]


def test_past_start_is_rewritten_to_now(api):
    meeting = api.created(weekly_body(start_time="2026-12-01T09:00:00Z",
                                      recurrence={"type": 2, "weekly_days": "2", "end_times": 2}))
    assert starts(meeting) == ["2027-01-04T12:00:00Z", "2027-01-11T12:00:00Z"]
    assert meeting["start_time"] == "2027-01-04T12:00:00Z"
    plain = api.created({"topic": "One-off", "type": 2, "start_time": "2020-01-01T00:00:00Z"})
    assert plain["start_time"] == "2027-01-04T12:00:00Z"


def test_get_shows_upcoming_occurrences_unless_asked(api, clock):
    meeting = api.created(weekly_body())
    path = f"/meetings/{meeting['id']}"
    clock.set(datetime(2027, 1, 15, tzinfo=UTC))
    api.token = api.new_token()  # the old one expired with the jump
    got = api.call("GET", path).json()
    assert starts(got) == ["2027-01-19T14:00:00Z", "2027-01-26T14:00:00Z", "2027-02-02T14:00:00Z"]
    assert got["start_time"] == "2027-01-19T14:00:00Z"
    everything = api.call("GET", path, params={"show_previous_occurrences": "true"}).json()
    assert len(everything["occurrences"]) == 5
    listed = api.call("GET", f"/users/{HOST}/meetings").json()["meetings"][0]
    assert listed["start_time"] == "2027-01-19T14:00:00Z"
    clock.set(datetime(2027, 3, 1, tzinfo=UTC))
    api.token = api.new_token()
    got = api.call("GET", path).json()
    assert got["occurrences"] == [] and got["start_time"] == "2027-02-02T14:00:00Z"
    assert api.call("GET", f"/users/{HOST}/meetings", params={"type": "previous_meetings"}).json()[
        "total_records"] == 1
    one = api.call("GET", path, params={"occurrence_id": meeting["occurrences"][1]["occurrence_id"]}).json()
    assert one["start_time"] == "2027-01-12T14:00:00Z"


# ------------------------------------------------------------------------------------- rate limits


def test_per_second_limit_per_label_with_headers(clock):
    with Sandbox(users=[HOST], plan="free", clock=clock) as sandbox:
        api = Api(sandbox)
        remaining = []
        for _ in range(4):  # Light: 4 per second on the free plan
            answer = api.call("GET", f"/users/{HOST}")
            assert answer.status_code == 200
            assert answer.headers["X-RateLimit-Category"] == "Light"
            assert answer.headers["X-RateLimit-Type"] == "QPS" and answer.headers["X-RateLimit-Limit"] == "4"
            remaining.append(answer.headers["X-RateLimit-Remaining"])
        assert remaining == ["3", "2", "1", "0"]
        limited = api.call("GET", f"/users/{HOST}")
        assert limited.status_code == 429
        assert limited.json() == {"code": 429, "message": "You have reached the maximum per-second rate limit "
                                                          "for this API. Try again later."}
        assert limited.headers["Retry-After"] == "1" and limited.headers["X-RateLimit-Type"] == "QPS"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        # Medium is a separate bucket (2 per second).
        listed = api.call("GET", f"/users/{HOST}/meetings")
        assert listed.status_code == 200 and listed.headers["X-RateLimit-Category"] == "Medium"
        assert listed.headers["X-RateLimit-Limit"] == "2"
        clock.advance(1)
        assert api.call("GET", f"/users/{HOST}").status_code == 200
        assert sandbox.counts()["429"] == 1 and sandbox.counts()["GET /users/{userId}"] == 6


def test_429_before_reading_a_post_body_never_corrupts_keep_alive(clock):
    with Sandbox(users=[HOST], plan="free", clock=clock) as sandbox:
        api = Api(sandbox)
        answers = [api.create(weekly_body(agenda="a" * 1500)) for _ in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        user = api.call("GET", f"/users/{HOST}")  # same connection, right after the refused POST
        assert user.status_code == 200 and user.json()["email"] == HOST
        assert len(sandbox.meetings()) == 2


def test_rate_limits_can_be_switched_off(clock):
    with Sandbox(users=[HOST], plan="free", rate_limits=False, clock=clock) as sandbox:
        api = Api(sandbox)
        assert all(api.call("GET", f"/users/{HOST}").status_code == 200 for _ in range(10))


def test_daily_limit_per_host_resets_next_utc_day(clock):
    with Sandbox(users=[HOST, OTHER], clock=clock, rate_limits=False) as sandbox:
        api = Api(sandbox)
        first = api.create(weekly_body())
        assert first.headers["X-RateLimit-Remaining"] == "99"
        api.call("PATCH", f"/meetings/{first.json()['id']}", json={"topic": "Changed"})  # counts too
        for n in range(98):
            assert api.create(weekly_body(topic=f"M{n}")).status_code == 201
        refused = api.create(weekly_body(topic="one too many"))
        assert refused.status_code == 429
        assert refused.json() == {
            "code": 429,
            "message": "You have exceeded the daily rate limit (100) of Meeting Create/Update API requests "
                       "permitted for this particular user. You may resume these requests at GMT 00:00:00.",
        }
        assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
        assert refused.headers["Retry-After"] == "2027-01-05T00:00:00Z"
        assert api.call("PATCH", f"/meetings/{first.json()['id']}", json={"topic": "x"}).status_code == 429
        assert api.call("DELETE", f"/meetings/{first.json()['id']}").status_code == 204  # not counted
        assert api.create(weekly_body(), host=OTHER).status_code == 201  # per host
        clock.set(datetime(2027, 1, 5, 0, 0, tzinfo=UTC))
        api.token = api.new_token()
        again = api.create(weekly_body())
        assert again.status_code == 201 and again.headers["X-RateLimit-Remaining"] == "99"
        assert len([m for m in sandbox.meetings() if m["host_email"] == HOST]) == 99  # 99 + 1 - 1 deleted


# ------------------------------------------------------------------------------------------ faults


def test_fault_429_with_and_without_retry_after(sb, api):
    sb.set_faults(rate_429=1.0)
    answers = [api.call("GET", f"/users/{HOST}") for _ in range(30)]
    assert {a.status_code for a in answers} == {429}
    with_header = [a for a in answers if "Retry-After" in a.headers]
    assert 0 < len(with_header) < 30 and all(a.headers["Retry-After"] == "1" for a in with_header)
    assert sb.counts()["429"] == 30
    assert requests.post(sb.oauth_url, auth=(sb.client_id, sb.client_secret), timeout=5, params={
        "grant_type": "account_credentials", "account_id": sb.account_id}).status_code == 200


def test_fault_5xx_on_any_request_stores_nothing(sb, api):
    sb.set_faults(rate_5xx=1.0)
    answer = api.create(weekly_body())
    assert answer.status_code in (500, 502, 503, 504)
    assert api.call("GET", f"/users/{HOST}").status_code >= 500
    assert sb.meetings() == []


def test_fault_5xx_on_reads_only(sb, api):
    sb.set_faults(rate_5xx_reads=1.0)
    assert api.create(weekly_body()).status_code == 201
    assert api.call("GET", f"/users/{HOST}/meetings").status_code >= 500


def test_fault_drop_after_create_stores_the_meeting(sb, api):
    sb.set_faults(drop_after_create=1.0)
    with pytest.raises(requests.ConnectionError):
        api.create(weekly_body())
    assert [m["topic"] for m in sb.meetings()] == ["Team Sync"]
    post = [r for r in sb.requests if r.route == "POST /users/{userId}/meetings"]
    assert len(post) == 1 and post[0].status == 201 and post[0].dropped
    assert post[0].body["topic"] == "Team Sync"


def test_fault_reset_before_handling_stores_nothing(sb, api):
    sb.set_faults(reset_before=1.0)
    with pytest.raises(requests.ConnectionError):
        api.create(weekly_body())
    assert sb.meetings() == []
    assert sb.requests[-1].dropped


def test_fault_expire_token_every_nth_request(sb, api):
    sb.set_faults(expire_token_every=3)
    assert api.call("GET", f"/users/{HOST}").status_code == 200
    assert api.call("GET", f"/users/{HOST}").status_code == 200
    third = api.call("GET", f"/users/{HOST}")
    assert third.status_code == 401 and third.json() == {"code": 124, "message": "Access token is expired."}
    assert api.call("GET", f"/users/{HOST}").json()["code"] == 124  # that token stays dead
    api.token = api.new_token()
    assert api.call("GET", f"/users/{HOST}").status_code == 200


def test_fault_slow_responses_and_latency_trip_client_timeouts(sb, api):
    sb.set_faults(slow_rate=1.0, slow_seconds=0.3)
    with pytest.raises(requests.Timeout):
        api.call("GET", f"/users/{HOST}", timeout=0.05)
    sb.set_faults(slow_rate=0.0, latency=0.3)
    with pytest.raises(requests.Timeout):
        api.call("GET", f"/users/{HOST}", timeout=0.05)
    sb.set_faults(latency=0.0)
    sb.latency = 0.3
    with pytest.raises(requests.Timeout):
        api.call("GET", f"/users/{HOST}", timeout=0.05)
    # The token endpoint never gets the API's latency.
    assert requests.post(sb.oauth_url, auth=(sb.client_id, sb.client_secret), timeout=0.25, params={
        "grant_type": "account_credentials", "account_id": sb.account_id}).status_code == 200


def test_fault_token_5xx_hits_only_the_token_endpoint(sb, api):
    sb.set_faults(token_5xx=1.0)
    answer = requests.post(sb.oauth_url, auth=(sb.client_id, sb.client_secret), timeout=5, params={
        "grant_type": "account_credentials", "account_id": sb.account_id})
    assert answer.status_code == 503
    assert api.call("GET", f"/users/{HOST}").status_code == 200


def test_faults_and_ids_are_reproducible_with_a_seed(clock):
    def run(seed: int) -> tuple[list[int], list[int]]:
        with Sandbox(users=[HOST], clock=clock, seed=seed, rate_limits=False) as sandbox:
            api = Api(sandbox)
            ids = [api.created(weekly_body(topic=f"T{n}"))["id"] for n in range(3)]
            sandbox.set_faults(rate_429=0.5)
            statuses = [api.call("GET", f"/users/{HOST}").status_code for _ in range(20)]
            return ids, statuses

    assert run(7) == run(7)
    assert run(7)[0] != run(8)[0]


def test_faults_object_rejects_unknown_fields():
    faults = Faults()
    faults.update(rate_429=0.5)
    assert faults.rate_429 == 0.5
    with pytest.raises(TypeError):
        faults.update(rate_four_twenty_nine=1.0)


# ------------------------------------------------------------------------------ out of band, store


def test_out_of_band_changes(sb, api):
    made = sb.create_out_of_band(HOST, weekly_body(topic="Seeded"))
    assert sb.meeting(made["id"])["topic"] == "Seeded"
    assert api.call("GET", f"/meetings/{made['id']}").json()["topic"] == "Seeded"
    sb.update_out_of_band(made["id"], {"settings": {"waiting_room": False}, "topic": "Edited in the web UI"})
    got = api.call("GET", f"/meetings/{made['id']}").json()
    assert got["topic"] == "Edited in the web UI" and got["settings"]["waiting_room"] is False
    assert got["settings"]["audio"] == "both"
    sb.delete_out_of_band(made["id"])
    assert api.call("GET", f"/meetings/{made['id']}").status_code == 404
    with pytest.raises(KeyError):
        sb.delete_out_of_band(made["id"])
    with pytest.raises(ValueError, match="Validation Failed"):
        sb.create_out_of_band(HOST, weekly_body(topic="x" * 300))
    assert [r.route for r in sb.requests if "meetings" in r.route] == ["GET /meetings/{meetingId}"] * 3
    assert sb.counts()["GET /meetings/{meetingId}"] == 3
    sb.reset_requests()
    assert sb.requests == []


def test_persistence_across_instances(tmp_path, clock):
    store = tmp_path / "zoom.json"
    with Sandbox(users=[HOST], clock=clock, store_path=store, daily_limit=2) as first:
        api = Api(first)
        made = api.created(weekly_body())
        api.call("PATCH", f"/meetings/{made['id']}", json={"topic": "Persisted"})
        user_id = api.call("GET", f"/users/{HOST}").json()["id"]
        tokens = list(first.issued_tokens)
    text = store.read_text(encoding="utf-8")
    assert "sandbox-secret" not in text and all(token not in text for token in tokens)
    assert not list(tmp_path.glob("*.tmp"))
    with Sandbox(clock=clock, store_path=store, daily_limit=2) as second:
        api = Api(second)
        got = api.call("GET", f"/meetings/{made['id']}").json()
        assert got["topic"] == "Persisted" and got["occurrences"] == made["occurrences"]
        assert api.call("GET", f"/users/{HOST}").json()["id"] == user_id
        assert api.create(weekly_body()).status_code == 429  # the daily count survived
        second.add_user(OTHER)
        other = api.created(weekly_body(), host=OTHER)
        assert other["id"] != made["id"]
    with Sandbox(clock=clock, store_path=store) as third:
        assert sorted(m["id"] for m in third.meetings()) == sorted([made["id"], other["id"]])


def test_stored_state_never_holds_the_secret(tmp_path, clock):
    store = tmp_path / "state" / "zoom.json"
    with Sandbox(users=[HOST], clock=clock, store_path=store, client_secret="s3cr3t-value") as sandbox:
        api = Api(sandbox)
        api.created(weekly_body())
        bad = api.call("GET", f"/users/{HOST}", token=api.token + "x")
        assert api.token not in bad.text
        assert all(r.body is None for r in sandbox.requests if r.route == "POST /oauth/token")
    data = json.loads(store.read_text(encoding="utf-8"))
    assert "s3cr3t-value" not in json.dumps(data)
    assert len(data["meetings"]) == 1


# --------------------------------------------------------------------------------------------- CLI


def serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return parser.parse_args(list(argv))


def test_serve_arguments():
    args = serve_args("--port", "0", "--plan", "free", "--user", "a@x.com", "--user", "b@x.com", "--seed", "3",
                      "--fault-429", "0.2", "--fault-5xx", "0.1", "--fault-drop", "0.3", "--expire-token-every", "5",
                      "--daily-limit", "10", "--auto-create-users", "--latency", "0.01", "--store", "s.json")
    assert args.user == ["a@x.com", "b@x.com"] and args.plan == "free" and args.fault_429 == 0.2
    assert args.expire_token_every == 5 and args.daily_limit == 10 and args.auto_create_users
    assert args.store == "s.json" and args.seed == 3 and args.fault_drop == 0.3


def test_run_serve_prints_how_to_connect_and_stops(tmp_path):
    lines: list[str] = []
    stop = threading.Event()
    args = serve_args("--user", "a@x.com", "--store", str(tmp_path / "zoom.json"))
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_serve(args, out=lines.append, stop=stop)))
    thread.start()
    try:
        for _ in range(200):
            if any("ZOOM_API_URL=" in line for line in lines):
                break
            threading.Event().wait(0.01)
        env_line = next(line for line in lines if "ZOOM_API_URL=" in line)
        values = dict(re.findall(r"(ZOOM_\w+)=(\S+)", env_line))
        answer = requests.post(values["ZOOM_OAUTH_URL"], auth=(values["ZOOM_CLIENT_ID"], values["ZOOM_CLIENT_SECRET"]),
                               params={"grant_type": "account_credentials", "account_id": values["ZOOM_ACCOUNT_ID"]},
                               timeout=5)
        token = answer.json()["access_token"]
        user = requests.get(values["ZOOM_API_URL"] + "/users/a@x.com", timeout=5,
                            headers={"Authorization": f"Bearer {token}"})
        assert user.status_code == 200
    finally:
        stop.set()
        thread.join(timeout=5)
    assert result == [0] and lines[-1] == "Sandbox stopped."


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_serve_stops_cleanly_on_sigterm():
    code = (
        "import argparse\n"
        "from zoomstate.sandbox import add_serve_arguments, run_serve\n"
        "p = argparse.ArgumentParser(); add_serve_arguments(p)\n"
        "raise SystemExit(run_serve(p.parse_args([])))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Zoom sandbox API:   http://127.0.0.1:")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.rstrip().endswith("Sandbox stopped.")


def test_stop_closes_keep_alive_connections(clock):
    sandbox = Sandbox(users=[HOST], clock=clock).start()
    api = Api(sandbox)
    assert api.call("GET", f"/users/{HOST}").status_code == 200
    sandbox.stop()
    with pytest.raises(requests.ConnectionError):
        api.call("GET", f"/users/{HOST}", timeout=2)
    assert sandbox.meeting(1) is None
    with pytest.raises(RuntimeError):
        _ = Sandbox(clock=clock).api_url  # never started


def test_token_ttl_and_midnight_helpers(clock):
    with Sandbox(users=[HOST], clock=clock, token_ttl=60) as sandbox:
        api = Api(sandbox)
        clock.advance(timedelta(seconds=61).total_seconds())
        assert api.call("GET", f"/users/{HOST}").json()["message"] == "Access token is expired."


# ------------------------------------------------------------------ occurrences, cross-checked


zones = st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"])


@st.composite
def rules(draw) -> dict:
    kind = draw(st.sampled_from([1, 2, 3]))
    rule: dict = {"type": kind, "repeat_interval": draw(st.integers(1, {1: 90, 2: 12, 3: 3}[kind]))}
    if kind == 2:
        days = draw(st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True))
        rule["weekly_days"] = ",".join(map(str, days))
    if kind == 3:
        if draw(st.booleans()):
            rule["monthly_day"] = draw(st.integers(1, 31))
        else:
            rule["monthly_week"] = draw(st.sampled_from([-1, 1, 2, 3, 4]))
            rule["monthly_week_day"] = draw(st.integers(1, 7))
    if draw(st.booleans()):
        rule["end_times"] = draw(st.integers(1, 50))
    else:
        end = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=draw(st.integers(0, 700)),
                                                           minutes=draw(st.integers(0, 1439)))
        rule["end_date_time"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return rule


@settings(max_examples=150, deadline=None)
@given(rule=rules(), zone=zones, day=st.integers(0, 400), minute=st.integers(0, 24 * 60 - 1))
def test_occurrences_agree_with_rfc5545_rrule(rule, zone, day, minute):
    """The day-by-day reference and dateutil's RFC 5545 engine must produce the same series."""
    from zoneinfo import ZoneInfo

    from dateutil import rrule as rr

    from zoomstate.sandbox import recurrence

    tz = ZoneInfo(zone)
    local_start = datetime(2027, 1, 1) + timedelta(days=day, minutes=minute)
    start = local_start.replace(tzinfo=tz)
    freq = {1: rr.DAILY, 2: rr.WEEKLY, 3: rr.MONTHLY}[rule["type"]]
    options: dict = {"dtstart": local_start, "interval": rule["repeat_interval"], "wkst": rr.SU}
    if rule["type"] == 2:
        options["byweekday"] = [(int(d) + 5) % 7 for d in rule["weekly_days"].split(",")]  # 1 = Sunday -> SU
    if "monthly_day" in rule:
        options["bymonthday"] = rule["monthly_day"]
    if "monthly_week" in rule:
        weekday = rr.weekday((rule["monthly_week_day"] + 5) % 7)
        options["byweekday"] = weekday(rule["monthly_week"])
    expected = []
    end_at = datetime.fromisoformat(rule["end_date_time"].replace("Z", "+00:00")) if "end_date_time" in rule else None
    limit = min(rule.get("end_times", 50), 50)
    for naive in rr.rrule(freq, **options):
        moment = naive.replace(tzinfo=tz).astimezone(UTC)
        if (end_at is not None and moment > end_at) or len(expected) == limit:
            break
        if moment >= start:
            expected.append(moment)
    assert recurrence.occurrence_starts(start, zone, rule) == expected


def test_concurrent_creates_never_overshoot_the_daily_limit(clock):
    from concurrent.futures import ThreadPoolExecutor

    with Sandbox(users=[HOST], clock=clock, rate_limits=False, daily_limit=50) as sandbox:
        token = Api(sandbox).token

        def create(n: int) -> int:
            answer = requests.post(f"{sandbox.api_url}/users/{HOST}/meetings", timeout=5,
                                   json=weekly_body(topic=f"T{n}"), headers={"Authorization": f"Bearer {token}"})
            return answer.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(create, range(80)))
        assert statuses.count(201) == 50 and statuses.count(429) == 30
        assert len(sandbox.meetings()) == 50
        assert len({m["id"] for m in sandbox.meetings()}) == 50


def test_every_api_response_carries_rate_limit_headers(sb, api):
    meeting = api.created(weekly_body())
    answers = [
        api.call("GET", f"/meetings/{meeting['id']}"),
        api.call("PATCH", f"/meetings/{meeting['id']}", json={"topic": "x"}),
        api.call("GET", "/meetings/1"),
        api.create({"type": 9}),
        api.call("GET", f"/users/{HOST}", token="bad"),
        api.call("DELETE", f"/meetings/{meeting['id']}"),
    ]
    assert [a.status_code for a in answers] == [200, 204, 404, 400, 401, 204]
    for answer in answers:
        for header in ("X-RateLimit-Category", "X-RateLimit-Type", "X-RateLimit-Limit", "X-RateLimit-Remaining"):
            assert header in answer.headers
    assert answers[0].headers["X-RateLimit-Type"] == "QPS" and answers[0].headers["X-RateLimit-Limit"] == "30"
    assert answers[1].headers["X-RateLimit-Type"] == "Daily-limit"
    assert answers[1].headers["X-RateLimit-Remaining"] == "98"  # one create, one update
    sb.set_faults(rate_5xx=1.0)
    assert "X-RateLimit-Category" in api.call("GET", f"/users/{HOST}").headers
