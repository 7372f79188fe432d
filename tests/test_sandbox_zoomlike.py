"""The sandbox's Zoom-like switches (per account and per host): what real Zoom does beyond its documentation."""

from __future__ import annotations

import pytest

from tests import contract
from tests.test_sandbox import HOST, OTHER, Api, weekly_body


@pytest.fixture
def api(sb):
    client = Api(sb)
    yield client
    client.session.close()


@pytest.fixture
def sb(clock):
    from zoomstate.sandbox import Sandbox

    with Sandbox(users=[HOST, OTHER], clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def clock():
    from tests.test_sandbox import NOW
    from zoomstate.clock import FakeClock

    return FakeClock(NOW)


def test_locked_and_inherited_settings_replace_what_is_sent_for_that_host_only(sb, api):
    sb.zoom_like(HOST, locked_settings={"auto_recording": "none"}, inherited_settings={"waiting_room": True})
    body = weekly_body(settings={"auto_recording": "cloud", "waiting_room": False})
    mine = api.created(body)
    assert mine["settings"]["auto_recording"] == "none" and mine["settings"]["waiting_room"] is True
    other = api.created(body, host=OTHER)
    assert other["settings"]["auto_recording"] == "cloud" and other["settings"]["waiting_room"] is False
    assert api.call("PATCH", f"/meetings/{mine['id']}", json={"settings": {"auto_recording": "local"}}
                    ).status_code == 204
    assert api.call("GET", f"/meetings/{mine['id']}").json()["settings"]["auto_recording"] == "none"


def test_documented_join_before_host_rule_is_a_switch(sb, api):
    sb.zoom_like(jbh_off_with_waiting_room=True)
    meeting = api.created(weekly_body(settings={"waiting_room": True, "join_before_host": True}))
    assert meeting["settings"]["join_before_host"] is False


def test_bodies_shaped_like_recorded_zoom(sb, api):
    sb.zoom_like(get_without_start_time=True, create_without_schedule=True, list_without_agenda=True,
                 pages_without_page_count=True)
    created = api.call("POST", f"/users/{HOST}/meetings", json=weekly_body())
    assert created.status_code == 201
    answer = created.json()
    assert "start_time" not in answer and "duration" not in answer and answer["id"]
    got = api.call("GET", f"/meetings/{answer['id']}").json()
    assert "start_time" not in got and got["occurrences"][0]["start_time"] == "2027-01-05T14:00:00Z"
    page = api.call("GET", f"/users/{HOST}/meetings").json()
    assert "page_count" not in page and "agenda" not in page["meetings"][0]
    for operation, status, body in (("meetingCreate", 201, answer), ("meeting", 200, got), ("meetings", 200, page)):
        if contract.spec_available() or contract._ci():
            contract.validate_response(operation, status, body)


def test_me_users_list_and_scope_errors(sb, api):
    me = api.call("GET", "/users/me")
    assert me.status_code == 200 and me.json()["email"] == HOST  # the account's first user
    users = api.call("GET", "/users").json()
    assert [u["email"] for u in users["users"]] == [HOST, OTHER]
    assert api.call("POST", "/users/me/meetings", json=weekly_body()).json()["host_email"] == HOST
    sb.zoom_like(user_read_scope=False)
    for path in ("/users/me", f"/users/{HOST}", "/users"):
        answer = api.call("GET", path)
        assert answer.status_code == 400 and answer.json()["code"] == 4711, path
        assert "does not contain scopes" in answer.json()["message"]
    if contract.spec_available() or contract._ci():
        contract.validate_response("users", 200, users)
        contract.validate_error(api.call("GET", "/users").json())


def test_registrants_list_and_add(sb, api):
    meeting = api.created(weekly_body(settings={"approval_type": 0}))
    added = api.call("POST", f"/meetings/{meeting['id']}/registrants",
                     json={"email": "pat@example.com", "first_name": "Pat"})
    assert added.status_code == 201, added.text
    assert added.json()["registrant_id"] and added.json()["join_url"].startswith("https://")
    listed = api.call("GET", f"/meetings/{meeting['id']}/registrants").json()
    assert [r["email"] for r in listed["registrants"]] == ["pat@example.com"]
    assert listed["registrants"][0]["status"] == "approved"
    closed = api.created(weekly_body())  # approval_type 2: no registration
    refused = api.call("POST", f"/meetings/{closed['id']}/registrants",
                       json={"email": "pat@example.com", "first_name": "Pat"})
    assert refused.status_code == 400 and refused.json()["code"] == 3000
    if contract.spec_available() or contract._ci():
        contract.validate_response("meetingRegistrants", 200, listed)
        contract.validate_response("meetingRegistrantCreate", 201, added.json())


def test_unknown_switch_is_refused(sb):
    with pytest.raises(TypeError, match="unknown Zoom-like switch"):
        sb.zoom_like(locked=True)
