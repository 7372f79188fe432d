"""Zoom's meeting format both ways: bodies of the shapes real Zoom returns in, LiveMeeting out; spec in, body out."""

from datetime import UTC, date, datetime, time

import pytest

from tests.conftest import TEST_NOW
from zoomstate.calendar import Rule
from zoomstate.model import MeetingSpec
from zoomstate.zoombody import (
    DesiredMeeting,
    candidate_ids,
    create_answer_complete,
    create_body,
    identity,
    live_identity,
    live_meeting,
    managed_view,
    outputs_of,
    parse_time,
    rule_of_zoom,
    same_zone,
    zone_identity,
)


def spec(**fields) -> MeetingSpec:
    base = dict(key="sync", host_email="alice@example.com", topic="Sync", start_date=date(2027, 2, 2),
                start_time=time(9, 0), recurrence_type="weekly", timezone="America/New_York", duration=45,
                weekly_days=(3,), occurrences=4)
    base.update(fields)
    return MeetingSpec(**base)


def type8_get(**changes) -> dict:
    """A GET /meetings/{id} body of a weekly type-8 meeting, in the shape Zoom returns (2026 fields)."""
    body = {
        "uuid": "QmFzZTY0VXVpZD09", "id": 84512345678, "host_id": "xUq2-hostid", "host_email": "alice@example.com",
        "assistant_id": "", "topic": "Sync", "type": 8, "status": "waiting",
        "start_time": "2027-02-02T14:00:00Z", "duration": 45, "timezone": "America/New_York", "agenda": "",
        "created_at": "2027-01-04T12:00:05Z", "start_url": "https://us05web.zoom.us/s/84512345678?zak=redacted",
        "join_url": "https://us05web.zoom.us/j/84512345678?pwd=abc.1", "password": "Xy12ab",
        "h323_password": "123456", "pstn_password": "123456", "encrypted_password": "abc.1",
        "settings": {"host_video": True, "participant_video": True, "join_before_host": True, "jbh_time": 0,
                     "mute_upon_entry": True, "watermark": False, "approval_type": 0, "registration_type": 1,
                     "audio": "voip", "auto_recording": "none", "waiting_room": True,
                     "meeting_authentication": False},
        "pre_schedule": False,
        "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "3", "end_times": 4},
        "occurrences": [
            {"occurrence_id": "1801576800000", "start_time": "2027-02-02T14:00:00Z", "duration": 45,
             "status": "available"},
            {"occurrence_id": "1802181600000", "start_time": "2027-02-09T14:00:00Z", "duration": 45,
             "status": "available"},
            {"occurrence_id": "1802786400000", "start_time": "2027-02-16T14:00:00Z", "duration": 45,
             "status": "available"},
            {"occurrence_id": "1803391200000", "start_time": "2027-02-23T14:00:00Z", "duration": 45,
             "status": "available"},
        ],
    }
    body.update(changes)
    return body


def test_one_timestamp_parser_reads_zoom_forms():
    assert parse_time("2027-02-02T14:00:00Z") == datetime(2027, 2, 2, 14, tzinfo=UTC)
    assert parse_time("2027-02-02T09:00:00-05:00") == datetime(2027, 2, 2, 14, tzinfo=UTC)
    assert parse_time("2027-02-02T14:00:00") == datetime(2027, 2, 2, 14, tzinfo=UTC)
    assert parse_time("") is None and parse_time(None) is None and parse_time("soon") is None


def test_type8_get_without_top_level_start_time_uses_first_live_occurrence():
    body = type8_get()
    del body["start_time"]
    body["occurrences"][0]["status"] = "deleted"
    live = live_meeting(body)
    assert live.start == datetime(2027, 2, 9, 14, tzinfo=UTC)
    assert live.occurrences is not None and len(live.occurrences) == 3  # a deleted occurrence is no meeting
    assert outputs_of(live)["start_time"] == "2027-02-09T09:00:00"
    assert outputs_of(live)["occurrences"] == 3


def test_live_view_is_independent_of_any_spec_and_holds_what_zoom_returned():
    live = live_meeting(type8_get())
    assert live.meeting_id == 84512345678 and live.topic == "Sync" and live.duration == 45
    assert live.rule == Rule("weekly", 1, weekly_days=(3,))
    assert live.settings["join_before_host"] is True and live.settings["waiting_room"] is True
    assert "start_url" not in outputs_of(live).values()
    assert all("zak" not in str(v) for v in outputs_of(live).values())


def test_monthly_with_both_forms_is_read_in_the_form_its_occurrences_follow():
    recurrence = {"type": 3, "repeat_interval": 1, "monthly_day": 1, "monthly_week": 2, "monthly_week_day": 3}
    # The second Tuesday: 2027-02-09, 2027-03-09.
    second_tuesdays = [datetime(2027, 2, 9, 9), datetime(2027, 3, 9, 9)]
    assert rule_of_zoom(recurrence, second_tuesdays) == Rule("monthly", 1, monthly_week=2, monthly_week_day=3)
    firsts = [datetime(2027, 2, 1, 9), datetime(2027, 3, 1, 9)]
    assert rule_of_zoom(recurrence, firsts) == Rule("monthly", 1, monthly_day=1)
    body = type8_get(recurrence={**recurrence, "end_times": 2}, occurrences=[
        {"occurrence_id": "1", "start_time": "2027-02-09T14:00:00Z", "duration": 45, "status": "available"},
        {"occurrence_id": "2", "start_time": "2027-03-09T14:00:00Z", "duration": 45, "status": "available"}])
    assert live_meeting(body).rule == Rule("monthly", 1, monthly_week=2, monthly_week_day=3)


def test_timezone_names_compare_by_the_zone_they_name():
    assert same_zone("Asia/Calcutta", "Asia/Kolkata")
    assert same_zone("Europe/Kiev", "Europe/Kyiv")
    assert not same_zone("Europe/Kyiv", "Europe/Warsaw")
    assert zone_identity("Not/A_Zone") == "Not/A_Zone"


def test_identity_of_a_live_meeting_matches_the_managed_view_across_zone_aliases():
    s = spec(timezone="Asia/Kolkata", start_time=time(10, 30))
    body = type8_get(timezone="Asia/Calcutta", start_time="2027-02-03T05:00:00Z", occurrences=None)
    assert live_identity(live_meeting(body)) == identity(managed_view(s))


def test_candidate_filter_keeps_unclaimed_type8_items_of_the_topic():
    items = [  # list items as Zoom lists them: no agenda, no recurrence
        {"uuid": "a", "id": 81000000001, "host_id": "h", "topic": "Sync", "type": 8,
         "start_time": "2027-02-02T14:00:00Z", "duration": 45, "timezone": "UTC",
         "created_at": "2027-01-04T12:00:00Z", "join_url": "https://zoom.us/j/81000000001"},
        {"uuid": "b", "id": 81000000002, "host_id": "h", "topic": "Sync", "type": 2},
        {"uuid": "c", "id": 81000000003, "host_id": "h", "topic": "Other", "type": 8},
        {"uuid": "d", "id": 81000000004, "host_id": "h", "topic": "Sync", "type": 8},
    ]
    assert candidate_ids(items, ("Sync",), claimed={81000000004}) == [81000000001]


def test_join_before_host_is_sent_as_written():
    body = create_body(spec(join_before_host=True, waiting_room=True), TEST_NOW)
    assert body["settings"]["join_before_host"] is True


def test_desired_meeting_compares_schedules_by_occurrences():
    want = DesiredMeeting(spec(), TEST_NOW)
    live = live_meeting(type8_get())
    assert want.same_schedule(live.upcoming(TEST_NOW))
    # Without occurrences[] the rule is expanded from the start; an end at midnight UTC after the last
    # meeting is the same series as the end of the local day.
    spelled = live_meeting(type8_get(occurrences=None, recurrence={
        "type": 2, "repeat_interval": 1, "weekly_days": "3", "end_date_time": "2027-02-24T00:00:00Z"}))
    assert want.same_schedule(spelled.upcoming(TEST_NOW))
    shorter = live_meeting(type8_get(occurrences=type8_get()["occurrences"][:3]))
    assert not want.same_schedule(shorter.upcoming(TEST_NOW))


@pytest.mark.parametrize("missing", ["start_time", "duration"])
def test_create_answer_without_start_or_duration_reads(missing):
    body = type8_get()
    body.pop(missing)
    body.pop("occurrences")
    live = live_meeting(body)
    assert live.meeting_id == 84512345678
    outputs = outputs_of(live)
    assert outputs["join_url"].startswith("https://")


def test_same_series_sets_the_end_aside_but_not_the_weekday_or_time():
    want = DesiredMeeting(spec(), TEST_NOW)
    occurrences = type8_get()["occurrences"]
    shorter = live_meeting(type8_get(occurrences=occurrences[:3]))  # the seed's end dropped the last meetings
    assert want.same_series(shorter.upcoming(TEST_NOW)) and not want.same_schedule(shorter.upcoming(TEST_NOW))
    later = [{**o, "start_time": o["start_time"].replace("T14:", "T15:")} for o in occurrences]
    assert not want.same_series(live_meeting(type8_get(occurrences=later)).upcoming(TEST_NOW))
    # A series that starts a week later is another meeting, whatever its end.
    assert not want.same_series(live_meeting(type8_get(occurrences=occurrences[1:])).upcoming(TEST_NOW))
    assert not want.same_series(())


def test_a_create_answer_stands_for_the_meeting_only_when_it_carries_what_was_sent():
    sent = create_body(spec(auto_recording="cloud", waiting_room=True), TEST_NOW)
    answer = type8_get(registration_url="https://us05web.zoom.us/meeting/register/tZ0")
    answer["settings"].update({name: value for name, value in sent["settings"].items()
                               if name not in answer["settings"]})
    assert create_answer_complete(answer, sent)
    # Zoom keeping another value is no reason to read back: the answer is the meeting as stored.
    assert create_answer_complete({**answer, "settings": {**answer["settings"], "auto_recording": "none"}}, sent)
    for missing in ("start_time", "duration", "timezone", "settings", "join_url", "topic"):
        if missing == "start_time":
            lacking = {k: v for k, v in answer.items() if k not in ("start_time", "occurrences")}
        else:
            lacking = {k: v for k, v in answer.items() if k != missing}
        assert not create_answer_complete(lacking, sent), missing
    assert not create_answer_complete({**answer, "occurrences": []}, sent)  # a series with no occurrences
    assert not create_answer_complete({**answer, "settings": {"audio": "voip"}}, sent)  # settings left out
    assert not create_answer_complete({k: v for k, v in answer.items() if k != "registration_url"}, sent)


def test_zooms_recorded_create_answer_stands_for_the_meeting_and_shows_what_it_kept():
    # A real 201 (shared/zoom-api/recorded) with the request that made it: auto_recording "cloud" was sent,
    # Zoom answered "none"; every other field sent is in the answer, so no read-back is needed to see that.
    import json

    from tests import contract
    from zoomstate.apply import not_kept

    contract.require_spec()  # the recordings come with the spec: skip without them, fail in CI
    path = contract.shared_dir() / "zoom-api" / "recorded" / "create-meeting-type2-localtime-past-pasted-2020.json"
    recorded = json.loads(path.read_text(encoding="utf-8"))
    sent, answer = recorded["request"]["body"], recorded["body"]
    assert create_answer_complete(answer, sent)
    kept = {d.path: (d.before, d.after) for d in not_kept(sent, live_meeting(answer))}
    assert kept["settings.auto_recording"] == ("none", "cloud")
