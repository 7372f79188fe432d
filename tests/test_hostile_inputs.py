"""Hostile and broken meetings files through the real CLI: refused before any request, nothing written.

Every file in tests/inputs/ (plus a generated file over the size limit) replaces a meetings.yaml that was
applied successfully; `apply` and `validate` must then refuse it with the file, line and field, without a
traceback, without a single request to Zoom, and without touching the state file, its backup or the CSV.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from tests.conftest import TEST_NOW, meeting, read_csv, write_meetings
from zoomstate.desired import load_desired
from zoomstate.document import MAX_FILE_BYTES
from zoomstate.model import InputError

INPUTS = Path(__file__).parent / "inputs"
LARGE = "generated: larger than 5 MiB"

# file -> (line of the first error, text the message must contain: the field path where there is one)
EXPECTED = {
    "alias-as-key.yaml": (9, "meetings[0]: a mapping key must be plain text"),
    "bad-email.yaml": (3, "meetings[0].host_email"),
    "billion-laughs.yaml": (6, "aliases expand"),
    "control-character-in-key.yaml": (10, "meetings[0].waiting_room\\x1b[8m"),
    "control-character-in-topic.yaml": (4, "meetings[0].topic: contains a control character"),
    "custom-tag.yaml": (9, "meetings[0].agenda"),
    "deep-nesting.yaml": (2, "nested deeper than 64"),
    "duplicate-derived-key.yaml": (2, "meetings[0].key"),
    "duplicate-explicit-key.yaml": (2, "meetings[0].key: key `weekly-sync` is also the key of meetings[1]"),
    "duplicate-mapping-key.yaml": (9, "meetings[0].topic"),
    "empty.yaml": (1, "the file is empty"),
    "end-before-start.yaml": (9, "end_date: end_date 2027-06-30 is before start_date 2027-07-01"),
    "end-date-and-occurrences.yaml": (9, "meetings[0].occurrences"),
    "impossible-date.yaml": (9, "meetings[0].end_date"),
    "impossible-start-date.yaml": (5, "meetings[0].start_date: 2027-02-30 is not a real date"),
    "json-duplicate-key.json": (10, "meetings[0].timezone: duplicate key"),
    "meeting-is-a-list.yaml": (2, "meetings[0]: must be a mapping"),
    "meetings-is-a-mapping.yaml": (2, "meetings: must be a list, not a mapping"),
    "meetings-null.yaml": (3, "meetings: must be a list, not empty"),
    "misspelt-field.yaml": (9, "meetings[0].weekly_day"),
    "missing-topic.yaml": (2, "meetings[0]: missing required field `topic`"),
    "monthly-day-32.yaml": (9, "meetings[0].monthly_day: must be at most 31"),
    "monthly-week-without-weekday.yaml": (9, "meetings[0].monthly_week"),
    "monthly-week-zero.yaml": (9, "meetings[0].monthly_week: must be one of -1, 1, 2, 3, 4"),
    "multiple-documents.yaml": (10, "more than one YAML document"),
    "negative-duration.yaml": (10, "meetings[0].duration: must be at least 1"),
    "newline-in-password.yaml": (10, "meetings[0].password: contains a control character"),
    "newline-in-start-time.yaml": (6, "meetings[0].start_time: contains a control character"),
    "no-end.yaml": (2, "meetings[0]: set end_date or occurrences"),
    "numeric-password.yaml": (10, "meetings[0].password: must be text (put the value in quotes;"),
    "non-utf8.yaml": (9, "not UTF-8"),
    "occurrences-51.yaml": (9, "meetings[0].occurrences: must be at most 50"),
    "password-too-long.yaml": (9, "meetings[0].password"),
    "python-tag.yaml": (9, "meetings[0].agenda"),
    "quoted-duration.yaml": (9, "meetings[0].duration"),
    "raw-control-character.yaml": (4, "unacceptable character"),
    "recursive-alias.yaml": (2, "meetings[0]"),
    "registration-contradiction.yaml": (10, "meetings[0].approval_type"),
    "repeat-interval-too-large.yaml": (9, "meetings[0].repeat_interval"),
    "seed-missing-comma.json": (8, "YAML syntax error"),
    "start-time-25.yaml": (6, "meetings[0].start_time"),
    "tab-indent.yaml": (3, "TAB"),
    "time-as-decimal.yaml": (6, "meetings[0].start_time"),
    "top-level-list.yaml": (1, "top level must be a mapping"),
    "top-level-typo.yaml": (1, "meeting: unknown field `meeting` (did you mean meetings?)"),
    "topic-in-defaults.yaml": (3, "defaults.topic"),
    "unclosed-env-reference.yaml": (10, "meetings[0].password: `${` starts an environment reference"),
    "unclosed-quote.yaml": (9, "YAML syntax error"),
    "unknown-timezone.yaml": (7, "meetings[0].timezone"),
    "unset-env-variable.yaml": (9, "meetings[0].password"),
    "weekly-days-eight.yaml": (9, "meetings[0].weekly_days"),
    "weekly-days-empty-item.yaml": (9, "meetings[0].weekly_days"),
    "weekly-days-on-daily.yaml": (9, "meetings[0].weekly_days"),
    "weekly-days-out-of-range.yaml": (9, "meetings[0].weekly_days"),
    "wrong-version.yaml": (1, "version"),
    "yes-as-boolean.yaml": (9, "meetings[0].waiting_room"),
    "zero-duration.yaml": (10, "meetings[0].duration: must be at least 1"),
    # 1 KiB lines: the byte just past 5 MiB is the first byte of line 5121.
    LARGE: (5121, "the file is larger than 5 MiB"),
}
# Files whose one problem is reported at two places; every other file gets exactly one error.
ERROR_COUNTS = {"duplicate-derived-key.yaml": 2, "duplicate-explicit-key.yaml": 2, "top-level-typo.yaml": 2}
# Anything a terminal would act on (escape sequences, bells) must never be echoed from the input.
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def corpus() -> list[str]:
    return sorted(p.name for p in INPUTS.iterdir() if p.name != "README.md")


def bad_bytes(name: str) -> bytes:
    if name == LARGE:
        line = b"# " + b"x" * 1021 + b"\n"
        first = b"meetings: []".ljust(1023) + b"\n"
        return first + line * (MAX_FILE_BYTES // len(line) + 10)
    return (INPUTS / name).read_bytes()


def test_corpus_is_listed_and_large_enough() -> None:
    assert len(corpus()) >= 40
    assert set(corpus()) | {LARGE} == set(EXPECTED)
    readme = (INPUTS / "README.md").read_text(encoding="utf-8")
    for name in corpus():
        line = EXPECTED[name][0]
        assert f"| `{name}` | {line} |" in readme, name


def _files(folder: Path) -> dict[str, bytes]:
    paths = [folder / "state" / "zoomstate.json", folder / "state" / "zoomstate.json.backup",
             folder / "zoom_meetings.csv"]
    return {p.name: p.read_bytes() for p in paths}


@pytest.mark.parametrize("name", [*corpus(), LARGE])
def test_hostile_file_is_refused_before_any_request(name: str, tmp_path: Path, run, sandbox) -> None:
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync"), meeting("planning", "bob@example.com", weekly_days="4,6"),
    ])
    first = run("apply", "-f", path, "--auto-approve")
    assert first.code == 0, first.err
    before = _files(tmp_path)
    assert len(read_csv(tmp_path / "zoom_meetings.csv")) == 2
    path.write_bytes(bad_bytes(name))
    sandbox.reset_requests()
    line, text = EXPECTED[name]

    applied = run("apply", "-f", path, "--auto-approve")
    validated = run("validate", "-f", path)

    for result in (applied, validated):
        output = result.out + result.err
        assert result.code == 1, output
        assert "Traceback" not in output and 'File "' not in output
        assert f"meetings.yaml:{line}:" in result.err, result.err
        assert text in result.err, result.err
        assert not TERMINAL_CONTROLS.search(output), repr(output)
        count = ERROR_COUNTS.get(name, 1)
        assert f"{count} error{'s' if count > 1 else ''}: nothing was changed." in result.err
    assert validated.err == applied.err
    assert sandbox.requests == []
    assert _files(tmp_path) == before


# -- files that look hostile but are fine -------------------------------------------------------------

GOOD = """\
meetings:
  - key: weekly-sync
    host_email: alice@example.com
    topic: Weekly sync
    agenda: |
      Line one
      Line two
    start_date: 2027-03-01
    start_time: 10:00:00
    timezone: Europe/London
    recurrence_type: weekly
    weekly_days: "2,4"
    occurrences: 8
"""


def test_bom_and_crlf_file_loads_and_applies(tmp_path: Path, run, sandbox) -> None:
    path = tmp_path / "meetings.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode("utf-8"))
    desired = load_desired(path, environ={}, now=TEST_NOW)
    spec = desired.meetings["weekly-sync"]
    # Line breaks are YAML's, not the file's: no \r survives into any value.
    assert spec.topic == "Weekly sync" and spec.agenda == "Line one\nLine two\n"
    assert spec.start_time == time(10, 0) and spec.weekly_days == (2, 4)
    assert spec.field_positions["start_time"].line == 9

    assert run("apply", "-f", path, "--auto-approve").code == 0
    live = sandbox.meetings()
    assert len(live) == 1 and live[0]["agenda"] == "Line one\nLine two\n"
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


SEED_JSON = """\
{
  "output_file": "zoom_meetings.csv",
  "meetings": [
    {
      "host_email": "alice@example.com",
      "topic": "Weekly sync",
      "start_date": "2027-03-01",
      "start_time": "10:00:00",
      "timezone": "UTC",
      "recurrence_type": "weekly",
      "weekly_days": "2,4",
      "end_date": "2027-04-30"
    }
  ]
}
"""


def test_seed_json_with_trailing_commas_reads_as_the_json_without_them(tmp_path: Path) -> None:
    # JSON is read as YAML, whose flow collections allow a trailing comma; the values are unambiguous,
    # so such a file is accepted and means exactly what the strict JSON means.
    strict = tmp_path / "strict.json"
    strict.write_text(SEED_JSON, encoding="utf-8")
    loose = tmp_path / "loose.json"
    loose.write_text(SEED_JSON.replace('"2027-04-30"\n', '"2027-04-30",\n').replace("}\n  ]", "},\n  ]"),
                     encoding="utf-8")
    assert loose.read_text(encoding="utf-8").count(",\n  ]") == 1
    expected = load_desired(strict, environ={}, now=TEST_NOW).meetings
    got = load_desired(loose, environ={}, now=TEST_NOW).meetings
    assert got == expected and list(got) == ["alice-weekly-sync"]
    assert got["alice-weekly-sync"].end_date == date(2027, 4, 30)


@pytest.mark.parametrize("value", ["Weekly\nsync", "Weekly\x1b[31m sync", "Weekly \udce9 sync"])
def test_control_characters_from_the_environment_are_refused_too(tmp_path: Path, value: str) -> None:
    # The same rule as for characters written in the file: ${TOPIC} cannot smuggle them in
    # (\udce9 is how Python hands over an environment byte that is not UTF-8).
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", topic="${TEAM_TOPIC}")])
    with pytest.raises(InputError) as caught:
        load_desired(path, environ={"TEAM_TOPIC": value}, now=TEST_NOW)
    (diag,) = caught.value.diagnostics
    assert diag.field == "meetings[0].topic" and diag.line == 4
    assert "control character" in diag.message or "not valid Unicode" in diag.message
    assert not TERMINAL_CONTROLS.search(str(caught.value)) and "\udce9" not in str(caught.value)


def test_tabs_and_line_breaks_stay_allowed_in_an_agenda(tmp_path: Path) -> None:
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", agenda="1.\tPlans\r\n2.\tRisks\n")])
    spec = load_desired(path, environ={}, now=TEST_NOW).meetings["team-sync"]
    assert spec.agenda == "1.\tPlans\r\n2.\tRisks\n"
