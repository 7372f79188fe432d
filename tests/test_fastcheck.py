"""fastcheck's predicate against jsonschema: it may say "valid" only where jsonschema finds no error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from zoomstate import desired
from zoomstate.document import load_document
from zoomstate.fastcheck import compile_schema
from zoomstate.model import InputError

ROOT = Path(__file__).resolve().parents[1]
INPUTS = sorted((ROOT / "tests" / "inputs").glob("*.y*ml")) + sorted((ROOT / "tests" / "inputs").glob("*.json"))
EXAMPLES = sorted(ROOT.glob("examples/**/*.yaml")) + [ROOT / "meetings.yaml"]

SCHEMA = desired._validation_schema()
KNOWN_VALID = compile_schema(SCHEMA)
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def jsonschema_valid(value: Any, validator: Draft202012Validator = VALIDATOR) -> bool:
    return next(iter(validator.iter_errors(value)), None) is None


def loaded(path: Path) -> dict | None:
    try:
        return load_document(path).root
    except InputError:
        return None  # refused before any schema check: nothing to compare


def test_the_meetings_schema_is_compiled_not_refused() -> None:
    # A refused schema would make the predicate always False: correct, but no faster.
    assert KNOWN_VALID({"meetings": []})
    assert not KNOWN_VALID({})


@pytest.mark.parametrize("path", INPUTS + EXAMPLES, ids=lambda p: p.name)
def test_input_files_agree_with_jsonschema(path: Path) -> None:
    root = loaded(path)
    if root is None:
        assert path.parent.name == "inputs"  # only the hostile inputs fail to load
        return
    assert KNOWN_VALID(root) == jsonschema_valid(root)


def test_the_input_files_include_both_verdicts() -> None:
    verdicts = {KNOWN_VALID(root) for root in map(loaded, INPUTS + EXAMPLES) if root is not None}
    assert verdicts == {True, False}


# --- random changes to a valid file ---------------------------------------------------------------

FIELDS = desired.meeting_field_names()
BASE: dict[str, Any] = {
    "version": 1,
    "output_file": "out.csv",
    "default_password": "abc123",
    "x-shared": {"anything": [1, "two"]},
    "zoom_api": {"account_id": "a", "client_id": "b", "client_secret": "c"},
    "defaults": {"timezone": "Europe/London", "duration": 30, "host_email": "team@example.com",
                 "waiting_room": False, "auto_recording": "cloud"},
    "meetings": [
        {"key": "weekly-sync", "topic": "Weekly sync", "start_date": "2027-03-01", "start_time": "09:30",
         "recurrence_type": "weekly", "weekly_days": "2,4", "occurrences": 10, "password": "p@ss_*-1"},
        {"topic": "Monthly review", "host_email": "boss@example.com", "start_date": "2027-03-05",
         "start_time": "14:00:00", "recurrence_type": "monthly", "monthly_week": -1, "monthly_week_day": 6,
         "end_date": "2027-12-31", "repeat_interval": 2, "approval_type": 1, "registration_type": 3},
        {"topic": "Daily", "start_date": "2027-03-01", "start_time": "8:05", "recurrence_type": "daily",
         "weekly_days": [1, 7], "monthly_day": 31, "duration": 1440, "agenda": "", "audio": "thirdParty",
         "enable_registration": True, "prevent_delete": True, "meeting_authentication": False},
    ],
}

TEXTS = st.sampled_from([
    "", "a", "x@y", "no at sign", "2027-03-01", "2027-3-1", "09:30", "24:00", "9:05:59", "2,4", "8", "1,", "${X}",
    "weekly", "Weekly", "none", "cloud", "both", "abcdefghijk", "ok-pass", "has space", "ÿ@é", "10:00\n",
]) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-3, 2000) | st.sampled_from([0, 1, 2, 7, 31, 50, 90, 1441])
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1.0, 60.0, 2.5, -1.0]) | TEXTS)
NAMES = st.sampled_from([*FIELDS, "meetings", "defaults", "x-a", "xa", "zz", "Topic", "version"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
                      max_leaves=6)


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_places(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_places(item, (*path, index)))
    return out


@st.composite
def changed_documents(draw) -> dict:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_places(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(NAMES)] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return doc


def test_the_base_document_is_valid() -> None:
    assert jsonschema_valid(BASE) and KNOWN_VALID(BASE)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changed_documents())
def test_changed_documents_never_pass_when_jsonschema_finds_errors(doc: dict) -> None:
    if KNOWN_VALID(doc):
        assert jsonschema_valid(doc)
    else:  # and for this schema the fast path is exact: a valid file never pays for jsonschema
        assert not jsonschema_valid(doc)


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_random_values_never_pass_when_jsonschema_finds_errors(value: Any) -> None:
    meeting_schema = Draft202012Validator(SCHEMA["properties"]["meetings"]["items"],
                                          format_checker=Draft202012Validator.FORMAT_CHECKER)
    check = compile_schema(SCHEMA["properties"]["meetings"]["items"])
    for candidate in (value, {"topic": "t", **value} if isinstance(value, dict) else value):
        assert not check(candidate) or jsonschema_valid(candidate, meeting_schema)


# --- the compiler on its own ----------------------------------------------------------------------


def agrees(schema: Any, values: list[Any]) -> list[bool]:
    check = compile_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    verdicts = [check(v) for v in values]
    assert verdicts == [jsonschema_valid(v, validator) for v in values]
    return verdicts


def test_true_false_and_numbers_compare_the_json_way() -> None:
    assert agrees({"enum": [1, 2]}, [1, 1.0, True, "1", [1]]) == [True, True, False, False, False]
    assert agrees({"const": True}, [True, 1, "true"]) == [True, False, False]
    assert agrees({"type": "integer"}, [60, 60.0, 60.5, True, "60"]) == [True, True, False, False, False]
    assert agrees({"minimum": 1, "maximum": 7}, [0, 1, 7, 8, "99", True, 7.5]) == [
        False, True, True, False, True, True, False]


def test_leaf_schemas_checked_in_one_step_agree() -> None:
    whole = {"type": "integer", "minimum": 0, "maximum": 2, "enum": [0, 2, 5]}
    assert agrees(whole, [0, 2.0, 1, 5, True, False, "0", None, 2.5]) == [
        True, True, False, False, False, False, False, False, False]
    mixed = {"type": "integer", "enum": [1, True]}  # not all whole numbers: the general form
    assert agrees(mixed, [1, True, 1.0, 2]) == [True, False, True, False]
    text = {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^a", "format": "email"}
    assert agrees(text, ["a@", "a@bc", "a@bcd", "b@c", "ab", "a", 5, None]) == [
        True, True, False, False, False, False, False, False]


def test_patterns_search_and_formats_check_only_text() -> None:
    assert agrees({"pattern": "b"}, ["abc", "xyz", 5]) == [True, False, True]
    assert agrees({"format": "email", "maxLength": 3}, ["a@b", "ab", "a@bc", None]) == [True, False, False, True]


def test_additional_properties_respect_properties_and_pattern_properties() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
              "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False}
    values = [{"a": "s"}, {"a": "s", "x-n": 1}, {"a": "s", "x-n": "1"}, {"a": "s", "b": 1}, {}, []]
    assert agrees(schema, values) == [True, True, False, False, False, False]


def test_recursive_refs_through_values_work() -> None:
    tree = {"$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array",
                                                                         "items": {"$ref": "#/$defs/node"}}}}},
            "$ref": "#/$defs/node"}
    assert agrees(tree, [{"kids": [{"kids": []}, {}]}, {"kids": [{"kids": [1]}]}]) == [True, False]


@pytest.mark.parametrize("schema", [
    {"multipleOf": 2},
    {"properties": {"a": {"oneOf": [{"type": "string"}]}}},
    {"format": "date"},
    {"$ref": "https://example.com/other.json"},
    {"$defs": {"loop": {"$ref": "#/$defs/loop"}}, "$ref": "#/$defs/loop"},  # would never end
    {"items": {"$id": "elsewhere", "type": "string"}},
])
def test_anything_not_understood_always_asks_jsonschema(schema: dict) -> None:
    check = compile_schema(schema)
    assert [check(v) for v in (2, "x", [], {"a": "s"})] == [False] * 4
