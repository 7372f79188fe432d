"""Loading meetings files: strict scalar typing, positions, and refusal of hostile or broken input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zoomstate.document import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    Document,
    format_path,
    load_document,
    plain_scalar,
)
from zoomstate.model import InputError, Position


def write(tmp_path: Path, text: str | bytes, name: str = "meetings.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str | bytes) -> Document:
    return load_document(write(tmp_path, text))


def failure(tmp_path: Path, text: str | bytes) -> InputError:
    with pytest.raises(InputError) as caught:
        load(tmp_path, text)
    assert "Traceback" not in str(caught.value)
    return caught.value


def only(error: InputError):
    assert len(error.diagnostics) == 1, error.diagnostics
    return error.diagnostics[0]


# -- YAML 1.1 traps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("10:00:00", "10:00:00"),  # YAML 1.1: sexagesimal 36000
        ("9:30", "9:30"),  # YAML 1.1: 570
        ("0123", "0123"),  # YAML 1.1: octal 83
        ("0o17", "0o17"),
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
        ("2027-03-01", "2027-03-01"),  # YAML 1.1: a date object
        ("2027-03-01 10:00:00", "2027-03-01 10:00:00"),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("NO", "NO"),
        (".inf", ".inf"),
        (".nan", ".nan"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+3", 3),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("2e3", 2000.0),
        ("1.5E-2", 0.015),
        ('"true"', "true"),
        ("'42'", "42"),
        ('"10:00:00"', "10:00:00"),
        ("'null'", "null"),
        ("!!str 5", "5"),
        ("!!str true", "true"),
        ("!!int 7", 7),
        ("!!float 2", 2.0),
        ("!!bool false", False),
        ("!!null ''", None),
        ("! 12", "12"),
    ],
)
def test_scalars_keep_the_text_written(tmp_path: Path, written: str, expected: object) -> None:
    doc = load(tmp_path, f"value: {written}\n")
    assert doc.root["value"] == expected
    assert type(doc.root["value"]) is type(expected)


def test_plain_scalar_rules_directly() -> None:
    assert plain_scalar("09:30") == "09:30"
    assert plain_scalar("007") == "007"
    assert plain_scalar("1.") == 1.0
    assert plain_scalar("Null") is None
    assert plain_scalar("tRuE") is True


def test_mapping_keys_are_always_text(tmp_path: Path) -> None:
    doc = load(tmp_path, "1: a\ntrue: b\nnull: c\n2027-03-01: d\n")
    assert doc.root == {"1": "a", "true": "b", "null": "c", "2027-03-01": "d"}


# -- positions --------------------------------------------------------------------------------


def test_positions_of_values_and_keys_are_one_based(tmp_path: Path) -> None:
    text = (
        "meetings:\n"
        "  - topic: First\n"
        "    weekly_days: [2, 4]\n"
        "  - topic: Second\n"
        "    start_time: 10:00\n"
    )
    doc = load(tmp_path, text)
    assert doc.position(()) == Position(doc.path, 1, 1)
    assert doc.position(("meetings",)) == Position(doc.path, 2, 3)
    assert doc.position(("meetings", 0)) == Position(doc.path, 2, 5)
    assert doc.position(("meetings", 0, "weekly_days")) == Position(doc.path, 3, 18)
    assert doc.position(("meetings", 0, "weekly_days", 1)) == Position(doc.path, 3, 22)
    assert doc.position(["meetings", 1, "start_time"]) == Position(doc.path, 5, 17)
    assert doc.key_position(("meetings", 1, "start_time")) == Position(doc.path, 5, 5)
    assert doc.position(("meetings", 7)) is None
    assert doc.key_position(("nothing",)) is None


def test_aliases_and_merge_keys_are_expanded_with_positions(tmp_path: Path) -> None:
    text = (
        "x-common: &common\n"
        "  timezone: Europe/Paris\n"
        "  duration: 30\n"
        "x-days: &days [2, 4]\n"
        "meetings:\n"
        "  - <<: *common\n"
        "    topic: A\n"
        "    duration: 45\n"
        "    weekly_days: *days\n"
        "  - <<: *common\n"
        "    topic: B\n"
    )
    doc = load(tmp_path, text)
    first, second = doc.root["meetings"]
    assert first == {"topic": "A", "duration": 45, "weekly_days": [2, 4], "timezone": "Europe/Paris"}
    assert second == {"topic": "B", "timezone": "Europe/Paris", "duration": 30}
    first["weekly_days"].append(6)  # copies, not shared objects
    assert doc.root["x-days"] == [2, 4]
    # Merged values point at the anchored mapping; explicit ones at themselves.
    assert doc.position(("meetings", 1, "timezone")) == Position(doc.path, 2, 13)
    assert doc.key_position(("meetings", 1, "duration")) == Position(doc.path, 3, 3)
    assert doc.position(("meetings", 0, "duration")) == Position(doc.path, 8, 15)
    assert doc.position(("meetings", 0, "weekly_days")) == Position(doc.path, 9, 18)
    assert doc.position(("meetings", 0, "weekly_days", 1)) == Position(doc.path, 4, 19)


def test_format_path() -> None:
    assert format_path(("meetings", 2, "weekly_days")) == "meetings[2].weekly_days"
    assert format_path(("defaults", "timezone")) == "defaults.timezone"
    assert format_path(()) == ""


def test_json_seed_config_loads_unchanged(tmp_path: Path) -> None:
    seed = {
        "zoom_api": {"account_id": "abc", "client_id": "id", "client_secret": "s3cret"},
        "output_file": "out.csv",
        "meetings": [{
            "host_email": "hr@company.com", "topic": "Monthly All-Hands", "agenda": "Company-wide",
            "start_date": "2026-03-15", "start_time": "15:00:00", "duration": 90,
            "timezone": "America/Chicago", "recurrence_type": "monthly", "monthly_day": 15,
            "occurrences": 10, "enable_registration": True, "waiting_room": False, "password": None,
        }],
    }
    for text in (json.dumps(seed), json.dumps(seed, indent=2), json.dumps(seed, indent="\t")):
        assert load(tmp_path, text).root == seed


def test_sha256_is_of_the_raw_bytes(tmp_path: Path) -> None:
    raw = "\ufeffmeetings: []  # with a byte order mark\n".encode()
    doc = load(tmp_path, raw)
    assert doc.sha256 == hashlib.sha256(raw).hexdigest()
    assert doc.root == {"meetings": []}


# -- refusals ---------------------------------------------------------------------------------


def test_duplicate_key_is_an_error_at_the_second_naming_the_first(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings:\n  - topic: A\n    duration: 30\n    topic: B\n"))
    assert (diag.line, diag.col) == (4, 5)
    assert diag.field == "meetings[0].topic"
    assert "duplicate key `topic`" in diag.message
    assert "line 2" in diag.message


def test_every_duplicate_key_is_reported(tmp_path: Path) -> None:
    error = failure(tmp_path, "a: 1\nb: 2\na: 3\nb: 4\n")
    assert [(d.line, d.field) for d in error.diagnostics] == [(3, "a"), (4, "b")]


def test_tab_indentation_says_use_spaces(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings:\n  - topic: A\n\t  duration: 30\n"))
    assert diag.line == 3
    assert "TAB" in diag.message and "spaces" in diag.hint


def test_tabs_inside_values_are_fine(tmp_path: Path) -> None:
    doc = load(tmp_path, 'agenda: "a\tb"\nnotes: |\n  line\n  \tindented\nafter:\tvalue\n')
    assert doc.root == {"agenda": "a\tb", "notes": "line\n\tindented\n", "after": "value"}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("meetings: !!python/object:os.system {a: 1}\n", "!!python/object:os.system"),
        ('agenda: !!python/object/apply:os.system ["ls"]\n', "!!python/object/apply:os.system"),
        ("agenda: !!binary aGVsbG8=\n", "!!binary"),
        ("agenda: !include notes.txt\n", "!include"),
        ("when: !!timestamp 2027-03-01\n", "!!timestamp"),
        ("days: !!set {a, b}\n", "!!set"),
    ],
)
def test_tags_are_not_allowed(tmp_path: Path, text: str, shown: str) -> None:
    diag = only(failure(tmp_path, text))
    assert diag.line == 1
    assert "tags are not allowed" in diag.message and shown in diag.message


def test_a_standard_tag_with_a_wrong_value_is_an_error(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings:\n  - duration: !!int sixty\n"))
    assert (diag.line, diag.field) == (2, "meetings[0].duration")
    assert "!!int" in diag.message


def test_billion_laughs_fails_fast(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        name, prev = chr(97 + level), chr(96 + level)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    diag = only(failure(tmp_path, "\n".join(lines) + "\n"))
    assert f"{MAX_ALIAS_NODES:,}" in diag.message
    assert diag.line is not None and diag.line <= 7


def test_aliases_below_the_budget_are_fine(tmp_path: Path) -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\nb: [" + ", ".join(["*a"] * 1000) + "]\n"
    doc = load(tmp_path, text)
    assert len(doc.root["b"]) == 1000 and doc.root["b"][999] == list(range(1, 10))


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings: &m\n  - *m\n"))
    assert diag.line == 2 and "contains it" in diag.message


def test_unknown_alias_is_a_syntax_error(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "a: *nowhere\n"))
    assert diag.line == 1


def _nested(levels: int) -> str:
    return "v: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def test_nesting_up_to_the_limit_is_fine(tmp_path: Path) -> None:
    doc = load(tmp_path, _nested(MAX_DEPTH))
    depth, value = 1, doc.root["v"]
    while value:
        depth, value = depth + 1, value[0]
    assert depth == MAX_DEPTH - 1


def test_nesting_past_the_limit_is_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, _nested(MAX_DEPTH + 1)))
    assert diag.line == 1 and f"deeper than {MAX_DEPTH}" in diag.message


def test_hostile_nesting_is_refused_without_crashing(tmp_path: Path) -> None:
    # libyaml's own composer overflows the C stack near 100,000 levels; events are read iteratively.
    diag = only(failure(tmp_path, "v: " + "[" * 500_000 + "]" * 500_000 + "\n"))
    assert f"deeper than {MAX_DEPTH}" in diag.message


def test_an_alias_cannot_push_nesting_past_the_limit(tmp_path: Path) -> None:
    anchor = "a: &deep " + "[" * 10 + "]" * 10 + "\n"
    text = anchor + "b: " + "[" * 58 + "*deep" + "]" * 58 + "\n"
    diag = only(failure(tmp_path, text))
    assert diag.line == 2 and "deeper than" in diag.message


def test_a_file_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, b"meetings: []\n" + b"#" * MAX_FILE_BYTES))
    assert "5 MiB" in diag.message


def test_non_utf8_bytes_name_the_offset_and_line(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, b"meetings:\n  - topic: Caf\xe9\n"))
    assert (diag.line, diag.col) == (2, 15)
    assert "UTF-8" in diag.message and "offset 24" in diag.message and "0xe9" in diag.message


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# just a comment\n", "---\n"])
def test_an_empty_file_says_how_to_start(tmp_path: Path, text: str) -> None:
    diag = only(failure(tmp_path, text))
    assert diag.message == "the file is empty: start with `meetings:`"
    assert diag.line == 1


@pytest.mark.parametrize(
    ("text", "found"), [("- a\n- b\n", "a list"), ("hello\n", "text"), ("42\n", "number")]
)
def test_the_top_level_must_be_a_mapping(tmp_path: Path, text: str, found: str) -> None:
    diag = only(failure(tmp_path, text))
    assert "top level must be a mapping" in diag.message and found in diag.message


def test_more_than_one_document_is_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings: []\n---\nmeetings: []\n"))
    assert diag.line == 2 and "more than one YAML document" in diag.message


def test_syntax_errors_name_line_column_and_problem(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings:\n  - topic: A\n   duration: 30\n"))
    assert (diag.line, diag.col) == (3, 4)
    assert diag.message.startswith("YAML syntax error:")
    assert "expected" in diag.message


def test_an_unclosed_quote_points_at_the_opening(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, 'meetings:\n  - topic: "Weekly\n    duration: 30\n\n'))
    assert (diag.line, diag.col) == (2, 12)


def test_control_characters_are_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "meetings: []\nagenda: a\x00b\n"))
    assert diag.line == 2 and "control characters" in diag.message


def test_complex_keys_are_refused(tmp_path: Path) -> None:
    diag = only(failure(tmp_path, "? [a, b]\n: 1\n"))
    assert diag.line == 1 and "mapping key" in diag.message


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_document(tmp_path / "absent.yaml")
    assert "not found" in str(caught.value)


def test_has_unprintable_finds_exactly_what_is_unprintable_finds() -> None:
    # The one-search form must agree with the per-character rule on every code point.
    import sys

    from zoomstate.document import has_unprintable, is_unprintable

    assert [c for c in range(sys.maxunicode + 1) if has_unprintable(chr(c)) != is_unprintable(chr(c))] == []
    assert has_unprintable("ok\x1b[31m") and not has_unprintable("Café sync ✓")
