"""Validating meetings files into DesiredConfig: schema errors in plain words, defaults, keys, rules."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from zoomstate import desired
from zoomstate.desired import derive_key, load_desired, load_schema, meeting_field_names, slug
from zoomstate.model import DesiredConfig, Diagnostic, InputError, MeetingSpec, Position

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
INPUTS = Path(__file__).parent / "inputs"

MEETING = """\
  - host_email: team@example.com
    topic: Weekly sync
    start_date: 2027-03-01
    start_time: 10:00
    timezone: UTC
    recurrence_type: weekly
    weekly_days: "2"
    end_date: 2027-06-30
"""

SEED_EXAMPLE_2 = {
    "zoom_api": {
        "account_id": "abc123xyz",
        "client_id": "client_id_here",
        "client_secret": "client_secret_here",
    },
    "meetings": [
        {
            "host_email": "sales@company.com",
            "topic": "Sales Pipeline Review",
            "start_date": "2026-03-04",
            "start_time": "10:00:00",
            "duration": 60,
            "timezone": "America/Los_Angeles",
            "recurrence_type": "weekly",
            "weekly_days": "3",
            "end_date": "2026-12-31",
            "enable_registration": False,
        },
        {
            "host_email": "engineering@company.com",
            "topic": "Engineering Sprint Planning",
            "start_date": "2026-03-04",
            "start_time": "14:00:00",
            "duration": 120,
            "timezone": "America/New_York",
            "recurrence_type": "weekly",
            "weekly_days": "3",
            "repeat_interval": 2,
            "end_date": "2026-12-31",
            "enable_registration": True,
        },
    ],
}


def write(tmp_path: Path, text: str, name: str = "meetings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> DesiredConfig:
    return load_desired(write(tmp_path, text), environ=environ or {}, now=NOW)


def errors(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[Diagnostic]:
    with pytest.raises(InputError) as caught:
        load(tmp_path, text, environ)
    assert "Traceback" not in str(caught.value)
    assert all(d.severity == "error" for d in caught.value.diagnostics)
    return caught.value.diagnostics


def only(diagnostics: list[Diagnostic]) -> Diagnostic:
    assert len(diagnostics) == 1, [d.format() for d in diagnostics]
    return diagnostics[0]


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def with_fields(extra: str = "", drop: tuple[str, ...] = (), top: str = "") -> str:
    """The base file with lines added to its meeting and some of its fields removed."""
    lines = [line for line in MEETING.splitlines(keepends=True) if line.split(":")[0].strip(" -") not in drop]
    if drop and "host_email" in drop:
        lines[0] = "  - " + lines[0][4:]
    return top + "meetings:\n" + "".join(lines) + extra


def spec_of(config: DesiredConfig, index: int = 0) -> MeetingSpec:
    return list(config.meetings.values())[index]


# -- a valid file ---------------------------------------------------------------------------------


def test_a_valid_file_becomes_meeting_specs(tmp_path: Path) -> None:
    text = with_fields("    key: team-sync\n    password: a1@_*-\n    prevent_delete: true\n")
    config = load(tmp_path, text)
    spec = config.meetings["team-sync"]
    assert spec == MeetingSpec(
        key="team-sync", host_email="team@example.com", topic="Weekly sync", start_date=date(2027, 3, 1),
        start_time=time(10, 0), recurrence_type="weekly", timezone="UTC", weekly_days=(2,),
        end_date=date(2027, 6, 30), password="a1@_*-", prevent_delete=True,
    )
    assert spec.position == Position(config.path, 2, 5)
    assert spec.where("start_time") == Position(config.path, 5, 17)
    assert spec.where("key") == Position(config.path, 10, 10)
    assert config.sha256 and config.path == str(tmp_path / "meetings.yaml")
    assert config.credentials == {}


def test_seed_defaults_apply(tmp_path: Path) -> None:
    spec = spec_of(load(tmp_path, with_fields(drop=("timezone",))))
    assert (spec.timezone, spec.duration, spec.agenda, spec.repeat_interval) == ("UTC", 60, "", 1)
    assert (spec.enable_registration, spec.approval_type, spec.registration_type) == (True, 0, 1)
    assert (spec.host_video, spec.participant_video, spec.join_before_host) == (True, True, False)
    assert (spec.mute_upon_entry, spec.waiting_room, spec.watermark) == (True, True, False)
    assert (spec.auto_recording, spec.audio, spec.meeting_authentication) == ("none", "both", False)


def test_weekly_days_forms_become_a_sorted_unique_tuple(tmp_path: Path) -> None:
    for written, expected in [('"4,2,4"', (2, 4)), ("6", (6,)), ("[7, 1, 7]", (1, 7)), ('"2"', (2,))]:
        text = with_fields(f"    weekly_days: {written}\n", drop=("weekly_days",))
        assert spec_of(load(tmp_path, text)).weekly_days == expected


def test_seed_json_example_loads_unchanged(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps(SEED_EXAMPLE_2, indent=2), "seed.json")
    config = load_desired(path, environ={}, now=datetime(2026, 1, 5, tzinfo=UTC))
    assert list(config.meetings) == ["sales-sales-pipeline-review", "engineering-engineering-sprint-planning"]
    sales, engineering = config.meetings.values()
    assert (sales.enable_registration, sales.approval_type) == (False, 2)
    assert (engineering.enable_registration, engineering.approval_type) == (True, 0)
    assert engineering.repeat_interval == 2 and engineering.weekly_days == (3,)
    assert sales.start_time == time(10, 0) and sales.end_date == date(2026, 12, 31)
    assert config.credentials == SEED_EXAMPLE_2["zoom_api"]
    warning = next(w for w in config.warnings if w.field == "zoom_api")
    assert "ZOOM_ACCOUNT_ID / ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET" in warning.message
    assert warning.line == 2
    assert config.output_file == str(tmp_path / "zoom_meetings.csv")
    everything = " ".join(w.format() for w in config.warnings) + repr(config)
    for secret in SEED_EXAMPLE_2["zoom_api"].values():
        assert secret not in everything


def test_credentials_never_appear_in_errors(tmp_path: Path) -> None:
    text = 'zoom_api:\n  account_id: acct\n  client_secret: 12345678\n  client_id: [cl13nt]\n' + with_fields()
    found = errors(tmp_path, text)
    assert [(d.line, d.field) for d in found] == [(3, "zoom_api.client_secret"), (4, "zoom_api.client_id")]
    assert not any(s in d.format() for d in found for s in ("12345678", "cl13nt"))


# -- schema errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "message", "hint"),
    [
        ("    waiting_room: yes\n", "waiting_room", "must be true or false, not the text `yes`",
         "write true or false"),
        ('    duration: "45"\n', "duration", "must be a whole number", "remove the quotes: write 45"),
        ("    duration: 0\n", "duration", "must be at least 1", "from 1 to 1440"),
        ("    duration: 1441\n", "duration", "must be at most 1440", "from 1 to 1440"),
        ("    duration: 45.5\n", "duration", "must be a whole number", ""),
        ("    auto_recording: Cloud\n", "auto_recording", "must be one of none, local, cloud",
         "did you mean cloud?"),
        ("    audio: phone\n", "audio", "must be one of both, telephony, voip, thirdParty", "write one of"),
        ("    approval_type: 3\n", "approval_type", "must be one of 0, 1, 2", ""),
        ("    monthly_week: 5\n", "monthly_week", "must be one of -1, 1, 2, 3, 4", ""),
        ('    topic: ""\n', "topic", "must not be empty", ""),
        ("    agenda: " + "a" * 2001 + "\n", "agenda", "must be at most 2000 characters long", "shorten"),
        ("    occurrences: 51\n", "occurrences", "must be at most 50", ""),
        ("    key: Team Sync\n", "key", "is not in the expected form", "lowercase letters"),
        ("    key: " + "a" * 65 + "\n", "key", "must be at most 64 characters long", ""),
        ("    host_email: team\n", "host_email", "is not an email address", "e.g. sales@company.com"),
        ("    start_date: 03/01/2027\n", "start_date", "is not in the expected form", "YYYY-MM-DD"),
        ("    start_time: 25:00\n", "start_time", "is not in the expected form", "HH:MM"),
        ("    start_time: 9.30\n", "start_time", "must be text, not the number 9.3", "HH:MM"),
        ("    timezone:\n", "timezone", "must be text, not empty", "write a value"),
        ("    topic: 2027\n", "topic", "must be text, not the number 2027", "quotes"),
        ("    weekly_days: 8\n", "weekly_days", "must be at most 7", "1 to 7"),
        ('    weekly_days: "2,8"\n', "weekly_days", "is not in the expected form", "1 = Sunday"),
        ("    weekly_days: [2, 9]\n", "weekly_days[1]", "must be at most 7", ""),
        ("    weekly_days: []\n", "weekly_days", "must not be an empty list", ""),
        ("    weekly_days: 2.5\n", "weekly_days", "is not a valid weekly_days", "1 = Sunday"),
        ("    password: abc defg\n", "password", "is not in the expected form", "at most 10 characters"),
        ("    password: abcdefghijk\n", "password", "must be at most 10 characters long", "shorten"),
        ("    password: 123456\n", "password", "must be text", "at most 10 characters"),
    ],
)
def test_schema_errors_in_plain_words(
    tmp_path: Path, extra: str, field: str, message: str, hint: str
) -> None:
    name = extra.split(":")[0].strip()
    text = with_fields(extra, drop=(name,))
    diag = only(errors(tmp_path, text))
    assert diag.field == f"meetings[0].{field}"
    assert diag.line == line_of(text, f"    {name}:")
    assert message in diag.message
    assert hint in diag.hint
    assert "{" not in diag.message and "Failed validating" not in diag.message  # no raw dumps


def test_passwords_are_never_shown(tmp_path: Path) -> None:
    found = errors(tmp_path, with_fields("    password: s3cr3t!pw\n"))
    assert "s3cr3t!pw" not in only(found).format()


def test_wrong_types_at_the_top_level(tmp_path: Path) -> None:
    text = "version: 2\noutput_file: 7\ndefaults: []\nmeetings:\n"
    found = errors(tmp_path, text)
    assert [(d.line, d.field) for d in found] == [(1, "version"), (2, "output_file"), (3, "defaults"),
                                                  (4, "meetings")]
    assert found[0].message == "must be 1, not the number 2"
    assert found[2].message.startswith("must be a mapping")
    assert "meetings: []" in found[3].hint


def test_missing_meetings(tmp_path: Path) -> None:
    diag = only(errors(tmp_path, "output_file: out.csv\n"))
    assert (diag.line, diag.col, diag.field) == (1, 1, "")
    assert diag.message == "missing required field `meetings`"


def test_missing_topic_is_reported_at_the_meeting(tmp_path: Path) -> None:
    text = with_fields(drop=("topic",))
    diag = only(errors(tmp_path, text))
    assert (diag.line, diag.col, diag.field) == (2, 5, "meetings[0]")
    assert diag.message == "missing required field `topic`"


@pytest.mark.parametrize("name", ["host_email", "start_date", "start_time", "recurrence_type"])
def test_required_after_merging_defaults(tmp_path: Path, name: str) -> None:
    found = errors(tmp_path, with_fields(drop=(name,)))
    diag = next(d for d in found if name in d.message)
    assert (diag.line, diag.field) == (2, "meetings[0]")
    assert diag.message == f"missing required field `{name}`"
    assert "defaults" in diag.hint


def test_the_same_field_can_come_from_defaults(tmp_path: Path) -> None:
    text = "defaults:\n  host_email: team@example.com\n" + with_fields(drop=("host_email",))
    spec = spec_of(load(tmp_path, text))
    assert spec.host_email == "team@example.com"
    assert spec.where("host_email") == Position(str(tmp_path / "meetings.yaml"), 2, 15)


def test_unknown_field_did_you_mean(tmp_path: Path) -> None:
    text = with_fields('    weekly_day: "2"\n', drop=("weekly_days",))
    diag = only(errors(tmp_path, text))
    assert (diag.line, diag.col) == (line_of(text, "weekly_day:"), 5)  # at the key
    assert diag.field == "meetings[0].weekly_day"
    assert diag.message == "unknown field `weekly_day`"
    assert diag.hint == "did you mean weekly_days?"


def test_unknown_fields_everywhere(tmp_path: Path) -> None:
    text = (
        "outputfile: x.csv\n"
        "x-anchors: {anything: goes}\n"
        "zoom_api:\n  secret: abc\n"
        "defaults:\n  timezon: UTC\n  topic: Standup\n"
        + with_fields("    colour: blue\n")
    )
    found = errors(tmp_path, text)
    assert [(d.line, d.field) for d in found] == [
        (1, "outputfile"), (4, "zoom_api.secret"), (6, "defaults.timezon"), (7, "defaults.topic"),
        (line_of(text, "colour"), "meetings[0].colour"),
    ]
    assert found[0].hint == "did you mean output_file?"
    assert found[2].hint == "did you mean timezone?"
    assert found[3].message == "`topic` cannot be set in defaults"
    assert "schemas/meetings.schema.json" in found[4].hint


def test_several_errors_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = (
        "defaults:\n"
        "  timezone: America/New_Yrok\n"
        "meetings:\n"
        "  - host_email: team@example.com\n"
        "    topic: First\n"
        "    start_date: 2027-03-01\n"
        "    start_time: 10:00\n"
        "    recurrence_type: weekly\n"
        "    weekly_days: 8\n"
        "    end_date: 2027-06-30\n"
        "    waiting_room: no\n"
        "  - host_email: team@example.com\n"
        "    topic: Second\n"
        "    start_date: 2027-03-01\n"
        "    start_time: 10:00\n"
        "    recurrence_type: dayly\n"
        "    occurrences: 5\n"
        "    end_date: 2027-06-30\n"
    )
    found = errors(tmp_path, text)
    assert [d.line for d in found] == [2, 9, 11, 16, 17]
    assert [d.field for d in found] == [
        "defaults.timezone", "meetings[0].weekly_days", "meetings[0].waiting_room",
        "meetings[1].recurrence_type", "meetings[1].occurrences",
    ]
    text = text.replace("dayly", "daily")
    found = errors(tmp_path, text)
    assert [d.line for d in found] == [2, 9, 11, 17]
    assert found[-1].message == "set end_date or occurrences, not both"


# -- values checked after the schema --------------------------------------------------------------


def test_timezone_typo_hint(tmp_path: Path) -> None:
    text = with_fields("    timezone: America/New_Yrok\n", drop=("timezone",))
    diag = only(errors(tmp_path, text))
    assert diag.field == "meetings[0].timezone" and diag.line == line_of(text, "timezone")
    assert diag.message == "unknown timezone `America/New_Yrok`"
    assert diag.hint == "did you mean America/New_York?"


def test_timezone_case_hint_and_unknown_without_hint(tmp_path: Path) -> None:
    diag = only(errors(tmp_path, with_fields("    timezone: europe/london\n", drop=("timezone",))))
    assert diag.hint == "did you mean Europe/London?"
    diag = only(errors(tmp_path, with_fields("    timezone: Nowhere\n", drop=("timezone",))))
    assert "IANA" in diag.hint


@pytest.mark.parametrize("name", ["start_date", "end_date"])
def test_dates_must_be_real(tmp_path: Path, name: str) -> None:
    text = with_fields(f"    {name}: 2027-02-30\n", drop=(name,))
    diag = only(errors(tmp_path, text))
    assert (diag.field, diag.line) == (f"meetings[0].{name}", line_of(text, f"{name}:"))
    assert diag.message == "2027-02-30 is not a real date"


def test_a_bad_defaults_value_is_reported_once(tmp_path: Path) -> None:
    text = "defaults:\n  timezone: Mars/Olympus\nmeetings:\n" + MEETING.replace("    timezone: UTC\n", "") * 2
    text = text.replace("Weekly sync", "Other", 1)
    diag = only(errors(tmp_path, text))
    assert (diag.line, diag.field) == (2, "defaults.timezone")


# -- defaults --------------------------------------------------------------------------------------


def test_defaults_merge_with_positions_at_the_defaults_block(tmp_path: Path) -> None:
    text = (
        "defaults:\n"
        "  timezone: Europe/Paris\n"
        "  duration: 30\n"
        "  waiting_room: false\n"
        "meetings:\n"
        + MEETING.replace("    timezone: UTC\n", "")
        + "    duration: 45\n"
    )
    config = load(tmp_path, text)
    spec = spec_of(config)
    assert (spec.timezone, spec.duration, spec.waiting_room) == ("Europe/Paris", 45, False)
    assert spec.where("timezone") == Position(config.path, 2, 13)
    assert spec.where("waiting_room") == Position(config.path, 4, 17)
    assert spec.where("duration") == Position(config.path, line_of(text, "duration: 45"), 15)


def test_default_password_applies_to_meetings_without_one(tmp_path: Path) -> None:
    text = "default_password: Shared1\n" + with_fields() + MEETING.replace("Weekly sync", "Other").replace(
        "    end_date", "    password: Own2\n    end_date")
    config = load(tmp_path, text)
    first, second = config.meetings.values()
    assert first.password == "Shared1" and first.where("password") == Position(config.path, 1, 19)
    assert second.password == "Own2"


def test_a_defaults_password_wins_over_default_password(tmp_path: Path) -> None:
    text = "default_password: Shared1\ndefaults:\n  password: Dflt\n" + with_fields()
    assert spec_of(load(tmp_path, text)).password == "Dflt"


def test_a_meeting_end_replaces_the_defaults_end(tmp_path: Path) -> None:
    text = "defaults:\n  occurrences: 10\n" + with_fields()
    spec = spec_of(load(tmp_path, text))
    assert (spec.end_date, spec.occurrences) == (date(2027, 6, 30), None)
    spec = spec_of(load(tmp_path, "defaults:\n  occurrences: 10\n" + with_fields(drop=("end_date",))))
    assert (spec.end_date, spec.occurrences) == (None, 10)


def test_defaults_for_other_recurrences_do_not_apply(tmp_path: Path) -> None:
    monthly = _recurring("monthly", "    monthly_day: 9\n").replace("Weekly", "Monthly")
    daily = _recurring("daily", "").replace("Weekly", "Daily")
    text = (
        "defaults:\n  weekly_days: \"3\"\n  monthly_week: 2\n  monthly_week_day: 5\n"
        + _recurring("weekly", "")
        + monthly.replace("meetings:\n", "")
        + daily.replace("meetings:\n", "")
    )
    weekly, monthly, daily = load(tmp_path, text).meetings.values()
    assert weekly.weekly_days == (3,) and weekly.monthly_week is None
    assert (monthly.monthly_day, monthly.monthly_week, monthly.monthly_week_day) == (9, None, None)
    assert (daily.weekly_days, daily.monthly_week) == (None, None)


def test_registration_from_defaults_gives_way_to_the_meeting(tmp_path: Path) -> None:
    text = "defaults:\n  approval_type: 1\n" + with_fields("    enable_registration: false\n")
    spec = spec_of(load(tmp_path, text))
    assert (spec.enable_registration, spec.approval_type) == (False, 2)
    text = "defaults:\n  approval_type: 1\n" + with_fields("    enable_registration: true\n")
    spec = spec_of(load(tmp_path, text))
    assert (spec.enable_registration, spec.approval_type) == (True, 1)


def test_an_error_from_an_inherited_value_points_at_defaults(tmp_path: Path) -> None:
    text = "defaults:\n  repeat_interval: 6\n" + with_fields(
        "", drop=()).replace("recurrence_type: weekly", "recurrence_type: monthly").replace(
        '    weekly_days: "2"\n', "")
    diag = only(errors(tmp_path, text))
    assert (diag.line, diag.col, diag.field) == (2, 20, "meetings[0].repeat_interval")
    assert "from defaults" in diag.message


# -- ${ENV} -----------------------------------------------------------------------------------------


def test_env_substitution_in_any_string(tmp_path: Path) -> None:
    text = with_fields("    password: ${MEETING_PW}\n    agenda: Room ${ROOM}, cost $${amount}\n"
                       "    duration: ${LENGTH}\n    waiting_room: ${WAIT}\n",
                       drop=("host_email",), top="defaults:\n  host_email: ${HOST}\n")
    env = {"MEETING_PW": "p4ss", "ROOM": "B2", "LENGTH": "45", "WAIT": "false", "HOST": "ops@example.com"}
    spec = spec_of(load(tmp_path, text, env))
    assert spec.password == "p4ss"
    assert spec.agenda == "Room B2, cost ${amount}"
    assert spec.duration == 45 and spec.waiting_room is False
    assert spec.host_email == "ops@example.com"


def test_an_unset_variable_names_the_field_and_the_variable(tmp_path: Path) -> None:
    text = with_fields("    password: ${MEETING_PW}\n")
    diag = only(errors(tmp_path, text, {"OTHER": "x"}))
    assert (diag.line, diag.field) == (line_of(text, "password"), "meetings[0].password")
    assert diag.message == "environment variable MEETING_PW is not set"


def test_a_malformed_reference_is_an_error(tmp_path: Path) -> None:
    diag = only(errors(tmp_path, with_fields("    agenda: costs ${1st}\n")))
    assert diag.field == "meetings[0].agenda" and "$${" in diag.hint


def test_password_rules_apply_after_substitution_without_showing_it(tmp_path: Path) -> None:
    text = with_fields("    password: ${MEETING_PW}\n")
    diag = only(errors(tmp_path, text, {"MEETING_PW": "far-too-long-pw"}))
    assert diag.field == "meetings[0].password" and "at most 10" in diag.message
    assert "far-too-long-pw" not in diag.format() and "it has" not in diag.format()


# -- keys --------------------------------------------------------------------------------------------


def test_slug_and_derived_keys() -> None:
    assert slug("Café  Sync!!") == "cafe-sync"
    assert slug("--Q3 / Planning--") == "q3-planning"
    assert derive_key("John.Smith@example.com", "Weekly Team Sync") == "john-smith-weekly-team-sync"
    assert derive_key("a@example.com", "🎉") == "a"
    long_key = derive_key("team@example.com", "word " * 30)
    assert len(long_key) <= 64 and not long_key.endswith("-")


def test_an_explicit_key_wins(tmp_path: Path) -> None:
    config = load(tmp_path, with_fields("    key: sync.v2_main\n"))
    assert list(config.meetings) == ["sync.v2_main"]


def test_duplicate_explicit_keys_are_errors_at_both_places(tmp_path: Path) -> None:
    first, second = MEETING + "    key: sync\n", MEETING.replace("Weekly", "Other") + "    key: sync\n"
    text = "meetings:\n" + first + second
    found = errors(tmp_path, text)
    assert [(d.line, d.field) for d in found] == [
        (line_of(text, "key: sync"), "meetings[0].key"), (line_of(text, "key: sync", 2), "meetings[1].key")]
    assert "meetings[1] (line 11)" in found[0].message and "meetings[0] (line 2)" in found[1].message


def test_duplicate_derived_keys_ask_for_an_explicit_key(tmp_path: Path) -> None:
    text = "meetings:\n" + MEETING + MEETING.replace("Weekly sync", "Weekly Sync!")
    found = errors(tmp_path, text)
    assert [(d.line, d.field) for d in found] == [(2, "meetings[0].key"), (10, "meetings[1].key")]
    assert all("team-weekly-sync" in d.message and "add an explicit key:" in d.hint for d in found)


def test_same_host_and_topic_is_a_warning(tmp_path: Path) -> None:
    text = "meetings:\n" + MEETING + "    key: first\n" + MEETING + "    key: second\n"
    config = load(tmp_path, text)
    assert list(config.meetings) == ["first", "second"]
    warning = next(w for w in config.warnings if "same host and topic" in w.message)
    assert (warning.line, warning.field) == (line_of(text, "topic", 2), "meetings[1].topic")


# -- cross-field rules -------------------------------------------------------------------------------


def test_end_date_or_occurrences(tmp_path: Path) -> None:
    text = with_fields("    occurrences: 10\n")
    diag = only(errors(tmp_path, text))
    assert diag.line == line_of(text, "occurrences")
    assert diag.message == "set end_date or occurrences, not both"
    diag = only(errors(tmp_path, with_fields(drop=("end_date",))))
    assert (diag.line, diag.field) == (2, "meetings[0]")
    assert diag.message == "set end_date or occurrences: one of them is required"


def _recurring(kind: str, extra: str, end: str = "    occurrences: 6\n") -> str:
    meeting = MEETING.replace("recurrence_type: weekly", f"recurrence_type: {kind}")
    meeting = meeting.replace('    weekly_days: "2"\n', "").replace("    end_date: 2027-06-30\n", end)
    return "meetings:\n" + meeting + extra


@pytest.mark.parametrize(
    ("kind", "extra", "field", "message"),
    [
        ("daily", '    weekly_days: "2"\n', "weekly_days", "weekly_days is only for weekly meetings"),
        ("monthly", '    weekly_days: "2"\n', "weekly_days", "this one is monthly"),
        ("weekly", "    monthly_day: 3\n", "monthly_day", "monthly_day is only for monthly meetings"),
        ("daily", "    monthly_week_day: 3\n", "monthly_week_day", "only for monthly meetings"),
        ("monthly", "    monthly_day: 3\n    monthly_week: 1\n", "monthly_day",
         "set monthly_day, or monthly_week with monthly_week_day, not both"),
        ("monthly", "    monthly_week: -1\n", "monthly_week", "monthly_week needs monthly_week_day"),
        ("monthly", "    monthly_week_day: 6\n", "monthly_week_day", "monthly_week_day needs monthly_week"),
        ("daily", "    repeat_interval: 91\n", "repeat_interval", "must be at most 90"),
        ("weekly", "    repeat_interval: 13\n", "repeat_interval", "at most 12 for weekly meetings"),
        ("monthly", "    repeat_interval: 4\n", "repeat_interval", "at most 3 for monthly meetings"),
        ("weekly", "    enable_registration: false\n    approval_type: 0\n", "approval_type",
         "enable_registration is false, but approval_type 0 (automatic approval) needs it"),
        ("weekly", "    enable_registration: false\n    approval_type: 1\n", "approval_type",
         "approval_type 1 (manual approval)"),
        ("weekly", "    enable_registration: true\n    approval_type: 2\n", "approval_type",
         "approval_type 2 means no registration, but enable_registration is true"),
    ],
)
def test_cross_field_rules(tmp_path: Path, kind: str, extra: str, field: str, message: str) -> None:
    text = _recurring(kind, extra)
    diag = only(errors(tmp_path, text))
    assert diag.field == f"meetings[0].{field}"
    assert diag.line == line_of(text, f"{field}:")
    assert message in diag.message


@pytest.mark.parametrize(("kind", "interval"), [("daily", 90), ("weekly", 12), ("monthly", 3)])
def test_largest_repeat_interval_is_accepted(tmp_path: Path, kind: str, interval: int) -> None:
    text = _recurring(kind, f"    repeat_interval: {interval}\n", end="    occurrences: 2\n")
    assert spec_of(load(tmp_path, text)).repeat_interval == interval


def test_registration_defaults(tmp_path: Path) -> None:
    spec = spec_of(load(tmp_path, with_fields("    enable_registration: false\n")))
    assert (spec.enable_registration, spec.approval_type) == (False, 2)
    spec = spec_of(load(tmp_path, with_fields("    approval_type: 2\n")))
    assert (spec.enable_registration, spec.approval_type) == (False, 2)
    spec = spec_of(load(tmp_path, with_fields("    approval_type: 1\n")))
    assert (spec.enable_registration, spec.approval_type) == (True, 1)


def test_calendar_defaults(tmp_path: Path) -> None:
    # 2027-03-03 is a Wednesday: Zoom weekday 4 (Sunday = 1).
    weekly = _recurring("weekly", "").replace("2027-03-01", "2027-03-03")
    assert spec_of(load(tmp_path, weekly)).weekly_days == (4,)
    monthly = _recurring("monthly", "").replace("2027-03-01", "2027-03-03")
    spec = spec_of(load(tmp_path, monthly))
    assert (spec.monthly_day, spec.monthly_week, spec.monthly_week_day) == (3, None, None)
    spec = spec_of(load(tmp_path, _recurring("monthly", "    monthly_week: -1\n    monthly_week_day: 6\n")))
    assert (spec.monthly_day, spec.monthly_week, spec.monthly_week_day) == (None, -1, 6)


def test_calendar_findings_are_sorted_into_errors_and_warnings(tmp_path: Path, monkeypatch) -> None:
    def fake_check(spec: MeetingSpec, now: datetime) -> list[Diagnostic]:
        assert now == NOW
        pos = spec.where("start_date")
        severity = "error" if spec.topic == "Bad" else "warning"
        return [Diagnostic(severity, pos.file, pos.line, pos.col, spec.key, f"{severity} from calendar")]

    monkeypatch.setattr(desired.cal, "check", fake_check)
    config = load(tmp_path, with_fields())
    assert [w.message for w in config.warnings] == ["warning from calendar"]
    text = with_fields().replace("Weekly sync", "Bad")
    diag = only(errors(tmp_path, text))
    assert (diag.line, diag.message) == (line_of(text, "start_date"), "error from calendar")


# -- output file, now, schema -------------------------------------------------------------------------


def test_output_file_is_resolved_against_the_meetings_folder(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    config = load_desired(write(folder, with_fields()), environ={}, now=NOW)
    assert config.output_file == str(folder / "zoom_meetings.csv")
    config = load_desired(write(folder, "output_file: out/list.csv\n" + with_fields()), environ={}, now=NOW)
    assert config.output_file == str(folder / "out" / "list.csv")
    absolute = folder / "exports" / "list.csv"
    config = load_desired(write(folder, f"output_file: {absolute}\n" + with_fields()), environ={}, now=NOW)
    assert config.output_file == str(absolute)


def _output_file_error(folder: Path, value: str, state_path: Path | None = None) -> Diagnostic:
    with pytest.raises(InputError) as caught:
        load_desired(write(folder, f"output_file: {json.dumps(value)}\n" + with_fields()), environ={}, now=NOW,
                     state_path=state_path)
    diag = only(caught.value.diagnostics)
    assert (diag.line, diag.col, diag.field) == (1, 14, "output_file")
    return diag


@pytest.mark.parametrize(("value", "problem"), [
    ("../elsewhere.csv", "must be inside the meetings file's folder"),
    ("out/../../elsewhere.csv", "must be inside the meetings file's folder"),
    ("/etc/passwd", "must be inside the meetings file's folder"),
    ("~/zoom_meetings.csv", "must be inside the meetings file's folder"),
    (".", "must be inside the meetings file's folder"),
    ("meetings.yaml", "is the meetings file itself"),
    ("./out/../meetings.yaml", "is the meetings file itself"),
    ("state/zoomstate.json", "is the state file"),
    ("state/zoomstate.json.backup", "is the state file's .backup file"),
    ("state/zoomstate.json.lock", "is the state file's .lock file"),
    ("state/zoomstate.json.journal", "is the state file's .journal file"),
])
def test_output_file_must_stay_inside_the_folder_and_off_zoomstates_own_files(
        tmp_path: Path, value: str, problem: str) -> None:
    folder = tmp_path / "config"
    (folder / "state").mkdir(parents=True)
    diag = _output_file_error(folder, value)
    assert diag.message.startswith(f"the CSV file {problem}"), diag.message


def test_output_file_symlinks_are_resolved(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "to-meetings.csv").symlink_to(folder / "meetings.yaml")
    (folder / "outside").symlink_to(tmp_path)
    (folder / "dangling.csv").symlink_to(tmp_path / "not-yet.csv")
    (folder / "loop.csv").symlink_to(folder / "loop.csv")
    assert "is the meetings file itself" in _output_file_error(folder, "to-meetings.csv").message
    assert "must be inside" in _output_file_error(folder, "outside/zoom_meetings.csv").message
    assert "must be inside" in _output_file_error(folder, "dangling.csv").message
    assert "cannot be resolved" in _output_file_error(folder, "loop.csv").message


def test_output_file_may_not_be_the_state_file_given(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    state = folder / "records" / "team.json"
    for value, problem in [("records/team.json", "is the state file"),
                           ("records/team.json.lock", "is the state file's .lock file"),
                           ("records/team.json.backup", "is the state file's .backup file")]:
        assert _output_file_error(folder, value, state).message.startswith(f"the CSV file {problem}")
    # The default state location is free when another state file is used.
    config = load_desired(write(folder, "output_file: state/zoomstate.json.csv\n" + with_fields()), environ={},
                          now=NOW, state_path=state)
    assert config.output_file == str(folder / "state" / "zoomstate.json.csv")


def test_now_defaults_to_the_current_time(tmp_path: Path) -> None:
    text = with_fields().replace("2027-03-01", "2099-03-02").replace("2027-06-30", "2099-06-30")
    config = load_desired(write(tmp_path, text), environ={})
    assert len(config.meetings) == 1


def test_environment_defaults_to_os_environ(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ZOOMSTATE_TEST_ROOM", "Blue")
    config = load_desired(write(tmp_path, with_fields("    agenda: ${ZOOMSTATE_TEST_ROOM}\n")), now=NOW)
    assert spec_of(config).agenda == "Blue"


def test_schema_is_draft_2020_12_with_descriptions() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/meetings.schema.json")
    for name in meeting_field_names():
        assert schema["$defs"][name]["description"]
    for name, prop in schema["properties"].items():
        assert prop.get("description") or name == "defaults"


def test_meeting_fields_match_the_spec_dataclass() -> None:
    spec_fields = [n for n in MeetingSpec.__dataclass_fields__ if n not in ("position", "field_positions")]
    assert sorted(meeting_field_names()) == sorted(spec_fields)
    assert set(load_schema()["$defs"]["defaults"]["properties"]) == set(spec_fields) - {"key", "topic", "moved_from"}


# -- the hostile and broken inputs in tests/inputs --------------------------------------------------

# file -> (line, text the message must contain: the field path where the problem has one)
BAD_INPUTS = {
    "bad-email.yaml": (3, "meetings[0].host_email"),
    "billion-laughs.yaml": (6, "aliases expand"),
    "custom-tag.yaml": (9, "meetings[0].agenda"),
    "deep-nesting.yaml": (2, "nested deeper than 64"),
    "duplicate-derived-key.yaml": (2, "meetings[0].key"),
    "duplicate-mapping-key.yaml": (9, "meetings[0].topic"),
    "empty.yaml": (1, "the file is empty"),
    "end-date-and-occurrences.yaml": (9, "meetings[0].occurrences"),
    "impossible-date.yaml": (9, "meetings[0].end_date"),
    "misspelt-field.yaml": (9, "meetings[0].weekly_day"),
    "missing-topic.yaml": (2, "meetings[0]: missing required field `topic`"),
    "monthly-week-without-weekday.yaml": (9, "meetings[0].monthly_week"),
    "multiple-documents.yaml": (10, "more than one YAML document"),
    "no-end.yaml": (2, "meetings[0]: set end_date or occurrences"),
    "non-utf8.yaml": (9, "not UTF-8"),
    "password-too-long.yaml": (9, "meetings[0].password"),
    "python-tag.yaml": (9, "meetings[0].agenda"),
    "quoted-duration.yaml": (9, "meetings[0].duration"),
    "recursive-alias.yaml": (2, "meetings[0]"),
    "registration-contradiction.yaml": (10, "meetings[0].approval_type"),
    "repeat-interval-too-large.yaml": (9, "meetings[0].repeat_interval"),
    "tab-indent.yaml": (3, "TAB"),
    "time-as-decimal.yaml": (6, "meetings[0].start_time"),
    "top-level-list.yaml": (1, "top level must be a mapping"),
    "topic-in-defaults.yaml": (3, "defaults.topic"),
    "unclosed-quote.yaml": (9, "YAML syntax error"),
    "unknown-timezone.yaml": (7, "meetings[0].timezone"),
    "unset-env-variable.yaml": (9, "meetings[0].password"),
    "weekly-days-on-daily.yaml": (9, "meetings[0].weekly_days"),
    "weekly-days-out-of-range.yaml": (9, "meetings[0].weekly_days"),
    "wrong-version.yaml": (1, "version"),
    "yes-as-boolean.yaml": (9, "meetings[0].waiting_room"),
}


def test_every_input_file_is_listed() -> None:
    # The files checked here in detail; tests/test_hostile_inputs.py runs every file of the corpus.
    on_disk = {p.name for p in INPUTS.glob("*.yaml")}
    assert set(BAD_INPUTS) <= on_disk
    readme = (INPUTS / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in on_disk)


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_files(name: str) -> None:
    line, text = BAD_INPUTS[name]
    with pytest.raises(InputError) as caught:
        load_desired(INPUTS / name, environ={}, now=NOW)
    message = str(caught.value)
    first = caught.value.diagnostics[0]
    assert first.line == line
    assert f"{name}:{line}:" in message
    assert text in message
    assert "Traceback" not in message and 'File "' not in message


# -- seed configs the seed script accepts ----------------------------------------------------------


@pytest.mark.parametrize("written", ["Weekly", "WEEKLY", "weekly"])
def test_recurrence_type_in_any_case_is_read_as_the_seed_reads_it(tmp_path: Path, written: str) -> None:
    config = load(tmp_path, "meetings:\n" + MEETING.replace("recurrence_type: weekly", f"recurrence_type: {written}"))
    spec = next(iter(config.meetings.values()))
    assert spec.recurrence_type == "weekly" and spec.weekly_days == (2,)
    defaults = "defaults:\n  recurrence_type: Daily\nmeetings:\n" + MEETING.replace(
        "    recurrence_type: weekly\n", "").replace('    weekly_days: "2"\n', "").replace(
        "end_date: 2027-06-30", "end_date: 2027-03-20")
    assert next(iter(load(tmp_path, defaults).meetings.values())).recurrence_type == "daily"


def test_recurrence_type_typo_is_still_an_error(tmp_path: Path) -> None:
    diag = only(errors(tmp_path, "meetings:\n" + MEETING.replace("recurrence_type: weekly", "recurrence_type: wekly")))
    assert diag.field == "meetings[0].recurrence_type" and "daily, weekly or monthly" in diag.hint


def test_monthly_day_with_the_week_form_is_a_warning_and_the_week_form_is_used(tmp_path: Path) -> None:
    text = _recurring("monthly", "    monthly_day: 3\n    monthly_week: 2\n    monthly_week_day: 3\n")
    config = load(tmp_path, text)
    spec = next(iter(config.meetings.values()))
    assert (spec.monthly_day, spec.monthly_week, spec.monthly_week_day) == (None, 2, 3)
    warning = only([d for d in config.warnings if d.field.endswith("monthly_day")])
    assert warning.severity == "warning" and warning.line == line_of(text, "monthly_day:")
    assert "Zoom uses monthly_week and monthly_week_day" in warning.message


# -- ignore_changes and join_before_host ----------------------------------------------------------------


def test_ignore_changes_paths_are_checked_and_a_meeting_list_replaces_the_defaults_one(tmp_path: Path) -> None:
    text = ("defaults:\n  ignore_changes: [agenda]\n" + with_fields("    ignore_changes: [settings.auto_recording]\n")
            + with_fields()[len("meetings:\n"):].replace("Weekly sync", "Other sync"))
    config = load(tmp_path, text)
    first, second = spec_of(config, 0), spec_of(config, 1)
    assert first.ignore_changes == ("settings.auto_recording",) and second.ignore_changes == ("agenda",)
    bad = only(errors(tmp_path, with_fields("    ignore_changes: [settings.colour]\n")))
    assert "ignore_changes" in bad.field and bad.line == line_of(with_fields(
        "    ignore_changes: [settings.colour]\n"), "ignore_changes")


def test_join_before_host_beside_a_waiting_room_is_sent_as_written_with_a_warning(tmp_path: Path) -> None:
    text = with_fields("    join_before_host: true\n    waiting_room: true\n")
    config = load(tmp_path, text)
    assert spec_of(config).join_before_host is True
    (warning,) = [d for d in config.warnings if "join_before_host" in d.field]
    assert warning.severity == "warning" and warning.line == line_of(text, "join_before_host")
    quiet = load(tmp_path, with_fields("    join_before_host: true\n    waiting_room: false\n"))
    assert not [d for d in quiet.warnings if "join_before_host" in d.field]


def test_many_copies_of_one_key_name_a_few_others_and_count_the_rest(tmp_path: Path) -> None:
    copies = "".join(MEETING.replace("Weekly sync", f"Sync {i}") for i in range(6))
    text = "meetings:\n" + copies.replace("  - host_email:", "  - key: same\n    host_email:")
    found = [d for d in errors(tmp_path, text) if "is also the key of" in d.message]
    assert len(found) == 6, found
    assert all(d.message.count("meetings[") == 3 and d.message.endswith("and 2 more") for d in found), found
