"""Hostile and broken meetings files through the real CLI: refused before any request, nothing written.

Every file in tests/inputs/ (plus a generated file over the size limit) replaces a meetings.yaml that was
applied successfully; `apply` and `validate` must then refuse it with the file, line and field, without a
traceback, without a single request to Zoom, and without touching the state file, its backup or the CSV.
"""

from __future__ import annotations

import json
import re
from datetime import date, time
from pathlib import Path

import pytest

from tests.conftest import TEST_NOW, meeting, read_csv, write_meetings
from zoomstate.desired import load_desired
from zoomstate.document import MAX_FILE_BYTES
from zoomstate.model import MAX_SHOWN_ERRORS, InputError

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
    "end-date-past-2099.yaml": (9, "meetings[0].end_date: 9999-12-31 is after 2099"),
    "env-credential.yaml": (4, "meetings[0].topic: ${ZOOM_CLIENT_SECRET} is a Zoom credential"),
    "impossible-date.yaml": (9, "meetings[0].end_date"),
    "impossible-start-date.yaml": (5, "meetings[0].start_date: 2027-02-30 is not a real date"),
    "json-duplicate-key.json": (10, "meetings[0].timezone: duplicate key"),
    "json-lone-surrogate.json": (5, "invalid Unicode character escape"),
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
    "output-file-is-the-meetings-file.yaml": (1, "output_file: the CSV file is the meetings file itself"),
    "output-file-is-the-state.yaml": (1, "output_file: the CSV file is the state file"),
    "output-file-outside.yaml": (1, "output_file: the CSV file must be inside the meetings file's folder"),
    "password-too-long.yaml": (9, "meetings[0].password"),
    "python-tag.yaml": (9, "meetings[0].agenda"),
    "quoted-duration.yaml": (9, "meetings[0].duration"),
    "raw-control-character.yaml": (4, "unacceptable character"),
    "recursive-alias.yaml": (2, "meetings[0]"),
    "registration-contradiction.yaml": (10, "meetings[0].approval_type"),
    "repeat-interval-too-large.yaml": (9, "meetings[0].repeat_interval"),
    "seed-missing-comma.json": (8, "YAML syntax error"),
    "start-date-past-2099.yaml": (5, "meetings[0].start_date: 2100-03-01 is after 2099"),
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
        assert sandbox.client_secret not in output
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


def test_json_surrogate_pair_escapes_load(tmp_path: Path) -> None:
    # Python's json.dumps writes a character outside the BMP as a surrogate pair, which YAML has no escape
    # for; such a file means the character. An escaped backslash before "u" stays literal text.
    data = json.loads(SEED_JSON)
    data["meetings"][0]["topic"] = "Weekly \U0001f600 sync \\ud83d\\ude00"
    data["meetings"][0]["agenda"] = "\U0001f389 and caf\u00e9"
    path = tmp_path / "meetings.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    assert "\\ud83d\\ude00" in path.read_text(encoding="utf-8")
    spec = next(iter(load_desired(path, environ={}, now=TEST_NOW).meetings.values()))
    assert spec.topic == "Weekly \U0001f600 sync \\ud83d\\ude00" and spec.agenda == "\U0001f389 and caf\u00e9"
    text = path.read_text(encoding="utf-8")
    assert spec.field_positions["start_date"].line == text[: text.index('"start_date"')].count("\n") + 1


def test_a_credential_variable_is_never_substituted_or_shown(tmp_path: Path, run, sandbox) -> None:
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", agenda="${ZOOM_ACCOUNT_ID}"),
                                                         meeting("planning", topic="Plan ${ZOOM_CLIENT_ID}")])
    for command in (("validate",), ("plan",), ("apply", "--auto-approve")):
        result = run(*command, "-f", path)
        output = result.out + result.err
        assert result.code == 1, output
        assert "${ZOOM_ACCOUNT_ID} is a Zoom credential" in result.err
        assert "${ZOOM_CLIENT_ID} is a Zoom credential" in result.err
        assert sandbox.account_id not in output and sandbox.client_id not in output
        assert "2 errors: nothing was changed." in result.err
    assert sandbox.requests == []


def test_output_file_may_not_be_the_state_file_given_with_state(tmp_path: Path, run, sandbox) -> None:
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")], output_file="records.json")
    state = tmp_path / "records.json"
    result = run("apply", "-f", path, "--state", state, "--auto-approve")
    assert result.code == 1 and "output_file: the CSV file is the state file" in result.err
    assert not state.exists() and sandbox.requests == []
    moved = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")], output_file="records.json.lock")
    result = run("plan", "--refresh=false", "-f", moved, "--state", state)
    assert result.code == 1 and "is the state file's .lock file" in result.err


# -- many errors: capped and collected in linear time ---------------------------------------------------

UNKNOWN_KEYS = 200_000


def many_unknown_keys(path: Path) -> Path:
    # 3.8 MB: one meeting holding 200,000 fields that do not exist.
    head = ("meetings:\n  - host_email: alice@example.com\n    topic: Weekly sync\n    start_date: 2027-03-01\n"
            "    start_time: '10:00'\n    recurrence_type: weekly\n    occurrences: 8\n")
    path.write_text(head + "".join(f"    field{i:06d}: 1\n" for i in range(UNKNOWN_KEYS)), encoding="utf-8")
    return path


def test_200000_unknown_keys_are_capped_at_100_shown(tmp_path: Path, run, sandbox) -> None:
    path = many_unknown_keys(tmp_path / "meetings.yaml")
    assert 3_700_000 < path.stat().st_size < 3_900_000
    with pytest.raises(InputError) as caught:
        load_desired(path, environ={}, now=TEST_NOW)
    shown = caught.value.diagnostics
    assert len(shown) == MAX_SHOWN_ERRORS and caught.value.omitted == UNKNOWN_KEYS - MAX_SHOWN_ERRORS
    assert [(d.line, d.field) for d in shown[:2]] == [(8, "meetings[0].field000000"), (9, "meetings[0].field000001")]
    assert shown[-1].line == 107 and str(caught.value).endswith("and 199,900 more errors (fix the ones above first)")

    result = run("plan", "-f", path)
    assert result.code == 1
    lines = result.err.splitlines()
    assert len(lines) == MAX_SHOWN_ERRORS + 2
    assert lines[-2:] == ["... and 199,900 more errors (fix the ones above first)",
                          "200,000 errors: nothing was changed."]
    assert sandbox.requests == []


# -- hostile state files: every command refuses them the same way ----------------------------------------

def _state_variants(text: str) -> dict[str, bytes]:
    data = json.loads(text)
    keys = sorted(data["meetings"])
    first, second = (data["meetings"][k] for k in keys)

    def changed(edit) -> bytes:
        copy = json.loads(text)
        edit(copy)
        return json.dumps(copy, indent=2).encode()

    dup_key = text.replace(f'"{keys[1]}":', f'"{keys[0]}":', 1)
    assert dup_key != text
    return {
        "meeting id as text": changed(lambda d: d["meetings"][keys[0]].update(meeting_id=str(first["meeting_id"]))),
        "meeting id true": changed(lambda d: d["meetings"][keys[0]].update(meeting_id=True)),
        "meeting id negative": changed(lambda d: d["meetings"][keys[0]].update(meeting_id=-1)),
        "one meeting under two keys": changed(
            lambda d: d["meetings"][keys[1]].update(meeting_id=first["meeting_id"])),
        "duplicate key": dup_key.encode(),
        "key with an escape sequence": changed(
            lambda d: d["meetings"].update({"x\x1b]0;pwned\x07": d["meetings"].pop(keys[0])})),
        "topic null": changed(lambda d: d["meetings"][keys[1]].update(topic=None)),
        "host a list": changed(lambda d: d["meetings"][keys[1]].update(host_email=[second["host_email"]])),
        "outputs a list": changed(lambda d: d["meetings"][keys[1]].update(outputs=[])),
        "meetings a list": changed(lambda d: d.update(meetings=list(d["meetings"].values()))),
        "pending a number": changed(lambda d: d.update(pending={"retro": 5})),
        "serial text": changed(lambda d: d.update(serial="7")),
        "version text": changed(lambda d: d.update(version="1")),
        "lineage missing": changed(lambda d: d.pop("lineage")),
        "not a state file": b"[]",
        "empty": b"",
        "truncated": text[: len(text) // 2].encode(),
        "not UTF-8": text.replace(second["topic"], "caf\xe9").encode("latin-1"),
        "nested too deeply": b'{"format": "zoomstate-state", "version": 1, "x": ' + b"[" * 100_000
                             + b"]" * 100_000 + b"}",
    }


STATE_COMMANDS = (("plan",), ("plan", "--refresh=false"), ("apply", "--auto-approve"), ("show",),
                  ("show", "--format", "json"), ("state", "list"), ("state", "rm", "team-sync"), ("export",),
                  ("import", "team-sync", "85000000001"))


def test_hostile_state_files_are_refused_by_every_command(tmp_path: Path, run, sandbox) -> None:
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync"), meeting("planning", "bob@example.com", weekly_days="4,6"),
    ])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert run("apply", "-f", path, "--auto-approve").code == 0  # a second save: the backup exists
    good = (tmp_path / "state" / "zoomstate.json").read_text(encoding="utf-8")
    for name, damaged in _state_variants(good).items():
        (tmp_path / "state" / "zoomstate.json").write_bytes(damaged)
        before = _files(tmp_path)
        sandbox.reset_requests()
        for command in STATE_COMMANDS:
            result = run(*command, "-f", path)
            output = result.out + result.err
            where = f"{name}: {' '.join(command)}: {output}"
            assert result.code == 1, where
            assert "Traceback" not in output and 'File "' not in output, where
            assert "zoomstate.json" in result.err and "1 error: nothing was changed." in result.err, where
            assert not TERMINAL_CONTROLS.search(output), where
            assert _files(tmp_path) == before, where
        assert sandbox.requests == [], name
