"""Validated meetings file -> ``DesiredConfig`` (the "validate" arrow of the flow).

Steps, all offline: load the document with positions; replace ``${ENV_NAME}`` in every string (``$${``
writes a literal ``${``); check the JSON Schema (``schemas/meetings.schema.json``); merge ``defaults`` and
``default_password`` into each meeting (the meeting wins, and an inherited value that contradicts the
meeting's own choice is dropped: a meeting that sets ``occurrences`` does not inherit ``end_date``); check the
rules that span fields; fill calendar defaults; derive keys; run the calendar checks. Every error in the
file is reported at once, each at the line and column of the value at fault.

A value that is exactly ``${NAME}`` in a number or true/false field is read the way YAML reads a plain
value (``duration: ${LENGTH}`` with LENGTH=45 is 45). Top-level keys starting with ``x-`` are ignored:
a place for YAML anchors that meetings share. Control characters are refused in every value but
an agenda's tabs and line breaks. Messages never show a passcode or a credential, and show control
characters escaped.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomstate import calendar as cal
from zoomstate import fastcheck
from zoomstate.document import (
    Document,
    PathTuple,
    format_path,
    has_unprintable,
    is_unprintable,
    load_document,
    plain_scalar,
    printable,
)
from zoomstate.model import (
    MAX_SHOWN_ERRORS,
    DesiredConfig,
    Diagnostic,
    InputError,
    MeetingSpec,
    Override,
    Position,
    Severity,
)

if TYPE_CHECKING:  # jsonschema is imported only when a file has schema errors
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_NAME = "meetings.schema.json"
DEFAULT_OUTPUT_FILE = "zoom_meetings.csv"
KEY_MAX = 64
DUPLICATES_NAMED = 3  # other meetings named in a duplicate-key error
LAST_YEAR = 2099  # the last year a start_date or end_date may be in
REQUIRED_AFTER_MERGE = ("host_email", "topic", "start_date", "start_time", "recurrence_type")
# Zoom's repeat_interval limits per recurrence type.
MAX_INTERVAL = {"daily": 90, "weekly": 12, "monthly": 3}
MONTHLY_FIELDS = ("monthly_day", "monthly_week", "monthly_week_day")
SECRET_FIELDS = {"password", "default_password", "zoom_api"}
# The credentials' own variables: a value made from one would carry it to Zoom, plan output and the CSV.
CREDENTIAL_VARIABLES = frozenset({"ZOOM_CLIENT_SECRET", "ZOOM_CLIENT_ID", "ZOOM_ACCOUNT_ID"})

_ENV_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")
_WORDS = {
    "integer": "a whole number", "number": "a number", "boolean": "true or false", "string": "text",
    "array": "a list", "object": "a mapping of `field: value` lines", "null": "empty",
}
# Text fields whose value may look like a number or true/false: quoting it is the fix.
QUOTABLE_FIELDS = {"key", "password", "default_password"}
# What to write, for values in the wrong form.
FIELD_HINTS = {
    "key": "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit: weekly-sync",
    "host_email": "write the host's Zoom email address, e.g. sales@company.com",
    "start_date": "write the date as YYYY-MM-DD, e.g. 2027-03-01",
    "end_date": "write the date as YYYY-MM-DD, e.g. 2027-12-31",
    "start_time": "write a 24-hour time as HH:MM or HH:MM:SS, e.g. 09:30 or 14:00:00",
    "weekly_days": 'write day numbers 1-7 (1 = Sunday ... 7 = Saturday): "2,4", 2 or [2, 4]',
    "password": "use at most 10 characters from A-Z a-z 0-9 @ _ * -, or ${ENV_NAME}",
    "recurrence_type": "write daily, weekly or monthly",
    "default_password": "use at most 10 characters from A-Z a-z 0-9 @ _ * -, or ${ENV_NAME}",
}


# -- schema -------------------------------------------------------------------------------------


@functools.cache
def load_schema() -> dict[str, Any]:
    """The meetings file's JSON Schema, as shipped in the package."""
    text = resources.files("zoomstate.schemas").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")
    return json.loads(text)


@functools.cache
def _validation_schema() -> dict[str, Any]:
    schema = copy.deepcopy(load_schema())
    # ${ENV} references are replaced before validation, so the real passcode rules apply to the result.
    schema["$defs"]["password"] = {"$ref": "#/$defs/password_text"}
    # Local $refs inlined: resolving them costs about 40% of validation time on a large file.
    return _inline_refs(schema, schema["$defs"])


@functools.cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_validation_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.cache
def _known_valid() -> fastcheck.Predicate:
    """True only for a value jsonschema finds no error in: a valid file skips jsonschema's slower walk."""
    return fastcheck.compile_schema(_validation_schema())


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline_refs(defs[ref[len("#/$defs/"):]], defs), **_inline_refs(rest, defs)}
    return {k: _inline_refs(v, defs) for k, v in node.items()}


def meeting_field_names() -> list[str]:
    """Every field a meeting may set, in the schema's order (for docs and "did you mean")."""
    return list(load_schema()["$defs"]["meeting"]["properties"])


@functools.cache
def _field_types() -> dict[str, str]:
    defs = load_schema()["$defs"]
    return {name: defs[name].get("type", "") for name in meeting_field_names()}


# -- the report ---------------------------------------------------------------------------------


@dataclass
class _Report:
    doc: Document
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    bad: set[PathTuple] = field(default_factory=set)  # values already reported as wrong
    # Every path a bad value lies under, and every finding so far: each lookup is one hash, so a file with
    # hundreds of thousands of mistakes is still checked in linear time.
    around_bad: set[PathTuple] = field(default_factory=set)
    seen: set[Diagnostic] = field(default_factory=set)
    close_match_budget: int = 2 * MAX_SHOWN_ERRORS  # "did you mean" lookups; only the first errors are shown
    uncounted: int = 0  # errors only counted: they come after MAX_SHOWN_ERRORS others in line order

    def add(self, severity: Severity, path: PathTuple, message: str, hint: str = "", *,
            key: bool = False, name: str | None = None) -> None:
        where = (self.doc.key_position(path) if key else None) or self.doc.position(path)
        diag = Diagnostic(
            severity, self.doc.path, where.line if where else None, where.col if where else None,
            name if name is not None else format_path(path), message, hint,
        )
        if diag not in self.seen:
            self.seen.add(diag)
            (self.errors if severity == "error" else self.warnings).append(diag)

    def error(self, path: PathTuple, message: str, hint: str = "", **kw: Any) -> None:
        self.add("error", path, message, hint, **kw)
        if path not in self.bad:
            self.bad.add(path)
            self.around_bad.update(path[:cut] for cut in range(len(path)))

    def warning(self, path: PathTuple, message: str, hint: str = "", **kw: Any) -> None:
        self.add("warning", path, message, hint, **kw)

    def is_bad(self, path: PathTuple) -> bool:
        """True when this value, or a value around it, was reported as wrong."""
        if not self.bad:  # the usual case: asked for every value of a valid file
            return False
        return any(path[:cut] in self.bad for cut in range(len(path), 0, -1))

    def has_bad(self, path: PathTuple) -> bool:
        """True when this value, a value around it, or a value inside it was reported as wrong."""
        return bool(self.bad) and (self.is_bad(path) or path in self.around_bad)


def _line_order(diag: Diagnostic) -> tuple[int, int]:
    return (diag.line or 0, diag.col or 0)


def _is_secret(path: PathTuple) -> bool:
    return any(part in SECRET_FIELDS for part in path if isinstance(part, str))


def _shown(value: Any, path: PathTuple) -> str:
    """The value for a message, never a secret's."""
    if _is_secret(path):
        return "this value"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text `{printable(value[:40])}{'...' if len(value) > 40 else ''}`"
    if isinstance(value, int | float):
        return f"the number {value}"
    return "a list" if isinstance(value, list) else "a mapping"


def _field_of(path: PathTuple) -> str:
    names = [part for part in path if isinstance(part, str)]
    return names[-1] if names else ""


# -- ${ENV} substitution ------------------------------------------------------------------------


def _substitute(value: Any, path: PathTuple, environ: Mapping[str, str], report: _Report) -> Any:
    # Copy on write: a mapping or list without a reference is returned as it is, and only strings that hold
    # "${" and collections are visited (a large file is mostly plain values).
    if isinstance(value, dict):
        changed = {}
        for k, v in value.items():
            if isinstance(v, str):
                if "${" not in v:
                    continue
            elif not isinstance(v, dict | list):
                continue
            new = _substitute(v, (*path, k), environ, report)
            if new is not v:
                changed[k] = new
        return {**value, **changed} if changed else value
    if isinstance(value, list):
        items = [_substitute(v, (*path, i), environ, report) if _may_refer(v) else v for i, v in enumerate(value)]
        return items if any(new is not old for new, old in zip(items, value, strict=True)) else value
    if not isinstance(value, str) or "${" not in value:
        return value
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            problems.append("malformed")
            return text
        if name in CREDENTIAL_VARIABLES:
            problems.append(f"credential:{name}")
            return text  # never substituted, so the value cannot reach any message or request
        if name not in environ:
            problems.append(name)
            return text
        return environ[name]

    result = _ENV_RE.sub(replace, value)
    for problem in problems:
        if problem == "malformed":
            report.error(path, "`${` starts an environment reference that is not `${NAME}`",
                         "write ${NAME} with letters, digits and _; write $${ for a literal ${")
        elif problem.startswith("credential:"):
            name = problem.removeprefix("credential:")
            report.error(path, f"${{{name}}} is a Zoom credential: it cannot be used in the meetings file",
                         f"remove ${{{name}}}; zoomstate reads {name} from the environment itself")
        else:
            report.error(path, f"environment variable {problem} is not set",
                         f"set {problem} in the environment, or write the value here")
    whole = _ENV_RE.fullmatch(value)
    if whole and whole.group(1) and _field_types().get(_field_of(path)) in ("integer", "boolean"):
        return plain_scalar(result)  # `duration: ${LENGTH}` -> 45, not "45"
    return result


def _may_refer(value: Any) -> bool:
    return isinstance(value, dict | list) or (isinstance(value, str) and "${" in value)


# -- control characters -------------------------------------------------------------------------

# Line breaks and tabs belong in an agenda; in any other value they are mistakes, and escape sequences
# would reach the terminal (plan output) and the CSV. YAML itself refuses them written raw; this refuses
# them however they got in: escapes ("\e", "\n"), JSON "\u001b", or ${ENV} values. It also closes a gap in
# the schema's patterns: `$` matches before a final line break, so "10:00\n" would pass `^...$`.
MULTILINE_FIELDS = {"agenda": "\t\n\r"}


def _control_characters(value: Any, path: PathTuple, report: _Report) -> None:
    # Only collections and strings holding such a character are visited: a large file is mostly clean text.
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str):
                if not has_unprintable(item):
                    continue
            elif not isinstance(item, dict | list):
                continue
            if not (path == () and name.startswith("x-")):  # x- blocks are ignored, as the schema says
                _control_characters(item, (*path, name), report)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if _may_hold_control(item):
                _control_characters(item, (*path, index), report)
    elif isinstance(value, str) and has_unprintable(value):
        allowed = MULTILINE_FIELDS.get(_field_of(path), "")
        for index, char in enumerate(value):
            if is_unprintable(char) and char not in allowed:
                _control_character_error(char, index, path, report)
                return


def _may_hold_control(value: Any) -> bool:
    return isinstance(value, dict | list) or (isinstance(value, str) and has_unprintable(value))


def _control_character_error(char: str, index: int, path: PathTuple, report: _Report) -> None:
    what = "a control character"
    if unicodedata.category(char) == "Cs":  # a lone surrogate: an ${ENV} value that was not UTF-8
        what = "a character that is not valid Unicode text"
    hint = "remove it"
    if _field_of(path) not in MULTILINE_FIELDS:
        hint += ": only agenda may hold tabs and line breaks"
    detail = "" if _is_secret(path) else f" ({printable(char)}) at position {index + 1}"
    report.error(path, f"contains {what}{detail}", hint)


# -- schema errors in plain words ---------------------------------------------------------------


def _schema_errors(root: dict[str, Any], report: _Report) -> None:
    if _known_valid()(root):
        return
    for error in _validator().iter_errors(root):
        path = tuple(error.absolute_path)
        if report.is_bad(path):
            continue  # already reported (e.g. an unset ${VAR})
        _explain(error, path, report)


def _explain(error: ValidationError, path: PathTuple, report: _Report) -> None:
    kind = error.validator
    value = error.instance
    name = _field_of(path)
    if kind == "additionalProperties":
        _unknown_fields(error, path, report)
    elif kind == "required":
        for missing in error.validator_value:
            if isinstance(value, dict) and missing not in value:
                hint = "add `meetings:` followed by a list of meetings" if not path else f"add `{missing}:`"
                report.add("error", path, f"missing required field `{missing}`", hint)
    elif kind == "type":
        _wrong_type(error, path, report)
    elif kind == "const":
        report.error(path, f"must be {error.validator_value}, not {_shown(value, path)}",
                     f"write {error.validator_value}, or remove the line")
    elif kind == "enum":
        choices = [str(c) for c in error.validator_value]
        hint = f"write one of: {', '.join(choices)}"
        close = _closest(str(value).lower(), [c.lower() for c in choices])
        if close:
            hint = f"did you mean {next(c for c in choices if c.lower() == close)}?"
        report.error(path, f"must be one of {', '.join(choices)}, not {_shown(value, path)}", hint)
    elif kind in ("minimum", "maximum"):
        word = "at least" if kind == "minimum" else "at most"
        low, high = error.schema.get("minimum"), error.schema.get("maximum")
        hint = f"write a number from {low} to {high}" if low is not None and high is not None else ""
        report.error(path, f"must be {word} {error.validator_value}, not {_shown(value, path)}", hint)
    elif kind == "minLength":
        report.error(path, "must not be empty" if error.validator_value == 1
                     else f"must be at least {error.validator_value} characters long", f"write a {name}")
    elif kind == "maxLength":
        size = "" if _is_secret(path) else f" (it has {len(value)})"
        report.error(path, f"must be at most {error.validator_value} characters long{size}", "shorten it")
    elif kind in ("pattern", "format"):
        what = "an email address" if name == "host_email" else "in the expected form"
        report.error(path, f"{_shown(value, path)} is not {what}", FIELD_HINTS.get(name, _examples(error)))
    elif kind in ("anyOf", "oneOf"):
        _any_of(error, path, report)
    elif kind == "minItems":
        report.error(path, "must not be an empty list", FIELD_HINTS.get(name, ""))
    else:
        report.error(path, "is not a valid value here", FIELD_HINTS.get(name, _examples(error)))


def _examples(error: ValidationError) -> str:
    examples = error.schema.get("examples") if isinstance(error.schema, dict) else None
    return "for example: " + ", ".join(json.dumps(e) for e in examples) if examples else ""


def _any_of(error: ValidationError, path: PathTuple, report: _Report) -> None:
    # The branch whose type fits the value says best what is wrong with it.
    fitting = [e for e in error.context or [] if e.validator != "type"]
    if fitting:
        best = fitting[0]
        _explain(best, tuple(best.absolute_path), report)
        return
    name = _field_of(path)
    report.error(path, f"{_shown(error.instance, path)} is not a valid {name}", FIELD_HINTS.get(name, ""))


def _wrong_type(error: ValidationError, path: PathTuple, report: _Report) -> None:
    expected = error.validator_value if isinstance(error.validator_value, str) else error.validator_value[0]
    value = error.instance
    message = f"must be {_WORDS.get(expected, expected)}"
    if not _is_secret(path):
        message += f", not {_shown(value, path)}"
    hint = ""
    if expected == "boolean":
        hint = "write true or false"
    elif expected == "integer" and isinstance(value, str) and isinstance(plain_scalar(value), int):
        hint = f"remove the quotes: write {value}"
    elif expected == "integer":
        hint = "write a whole number, e.g. 60" if _field_of(path) == "duration" else "write a whole number"
    elif expected == "string" and isinstance(value, int | float | bool):
        name = _field_of(path)
        if name in QUOTABLE_FIELDS:  # `password: 123456` is a number to YAML, a valid passcode in quotes
            hint = f"put the value in quotes; {FIELD_HINTS[name]}"
        else:
            hint = FIELD_HINTS.get(name, "put the value in quotes")
    elif expected == "string" and value is None:
        hint = "write a value, or remove the line"
    elif expected == "array" and path == ("meetings",):
        hint = "write `meetings:` followed by lines starting with `- `; `meetings: []` for none"
    elif expected == "object":
        hint = "write `field: value` lines, indented below"
    report.error(path, message, hint)


def _unknown_fields(error: ValidationError, path: PathTuple, report: _Report) -> None:
    if not isinstance(error.instance, dict):
        return
    allowed = list(error.schema.get("properties", {}))
    patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
    reported = 0
    for name in error.instance:
        if name in allowed or any(p.search(name) for p in patterns):
            continue
        reported += 1
        if reported > MAX_SHOWN_ERRORS:
            # A mapping's keys are in line order, so these come after MAX_SHOWN_ERRORS errors of this mapping
            # and could never be among the errors shown: counted, not described.
            report.uncounted += 1
            continue
        if path == ("defaults",) and name in ("key", "topic"):
            report.error((*path, name), f"`{name}` cannot be set in defaults",
                         f"each meeting sets its own {name}", key=True)
            continue
        close = None
        if report.close_match_budget > 0:  # difflib costs; past the errors shown, a plain hint does
            report.close_match_budget -= 1
            close = _closest(name.lower(), allowed)
        hint = (f"did you mean {close}?" if close
                else "remove it or check the spelling; the fields are listed in schemas/meetings.schema.json")
        report.error((*path, name), f"unknown field `{printable(name)}`", hint, key=True)


def _closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice most like ``word``, if one is close enough (difflib: imported only when a mistake needs it)."""
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


# -- values -------------------------------------------------------------------------------------


@functools.cache
def _zones() -> frozenset[str]:
    try:  # the tzdata package: the same list on every machine
        text = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
        zones = set(text.split())
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - tzdata is a dependency
        import zoneinfo

        zones = set(zoneinfo.available_timezones())
    zones.discard("Factory")
    return frozenset(zones)


def _zone_hint(name: str) -> str:
    by_lower = {z.lower(): z for z in _zones()}
    if name.lower() in by_lower:
        return f"did you mean {by_lower[name.lower()]}?"
    close = _closest(name, sorted(_zones()))
    if close:
        return f"did you mean {close}?"
    return "use an IANA name such as America/New_York or Europe/London"


def _weekly_days(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        days = [int(part) for part in value.split(",")]
    elif isinstance(value, list):
        days = [int(v) for v in value]
    else:
        days = [int(value)]
    return tuple(sorted(set(days)))


def _start_time(text: str) -> time:
    parts = [int(p) for p in text.split(":")]
    return time(parts[0], parts[1], parts[2] if len(parts) > 2 else 0)


def _overrides(items: list[dict[str, Any]]) -> tuple[Override, ...]:
    return tuple(Override(date.fromisoformat(item["date"]),
                          _start_time(item["start_time"]) if "start_time" in item else None,
                          int(item["duration"]) if "duration" in item else None, item.get("agenda"))
                 for item in items)


# Converters for fields whose YAML value is not already the MeetingSpec value; a ValueError means
# the value passed the schema's form check but is not real (2027-02-30).
_CONVERT: dict[str, Callable[[Any], Any]] = {
    "start_date": date.fromisoformat, "end_date": date.fromisoformat, "start_time": _start_time,
    "weekly_days": _weekly_days, "ignore_changes": lambda paths: tuple(dict.fromkeys(paths)),
    "overrides": _overrides,
}


def _check_values(values: Mapping[str, Any], base: PathTuple, report: _Report) -> dict[str, Any]:
    """Valid, converted values of one meeting or of defaults; wrong ones are reported and left out."""
    out: dict[str, Any] = {}
    types = _field_types()
    for name, raw in values.items():
        if name not in types:
            continue
        path = (*base, name)
        if report.has_bad(path):
            continue
        value = raw
        if name in _CONVERT:
            try:
                value = _CONVERT[name](raw)
            except ValueError:
                report.error(path, f"{raw} is not a real date", "check the day and month")
                continue
            if isinstance(value, date) and value.year > LAST_YEAR:
                # Occurrences and Zoom bodies of such a series run into the calendar's end (year 9999).
                report.error(path, f"{raw} is after {LAST_YEAR}: dates up to {LAST_YEAR}-12-31 are supported",
                             "check the year")
                continue
        elif types[name] == "integer" and isinstance(raw, float):
            value = int(raw)  # the schema accepted 60.0 as a whole number
        if name == "timezone" and value not in _zones():
            report.error(path, f"unknown timezone `{value}`", _zone_hint(value))
            continue
        out[name] = value
    return out


# -- one meeting --------------------------------------------------------------------------------


@dataclass
class _Merged:
    """One meeting after defaults, with where each value came from."""

    index: int
    values: dict[str, Any]
    paths: dict[str, PathTuple]  # field -> path of the value in the document
    missing_ok: set[str]  # fields that are absent because their value was wrong (already reported)

    @property
    def path(self) -> PathTuple:
        return ("meetings", self.index)

    def field_path(self, name: str) -> PathTuple:
        return (*self.path, name)

    def inherited(self, name: str) -> bool:
        return self.paths.get(name, self.path)[:2] != self.path


def _merge(index: int, own: dict[str, Any], defaults: dict[str, Any], shared_password: Any,
           bad: set[str]) -> _Merged:
    inherit = {k: v for k, v in defaults.items() if k not in own and k not in bad}
    own = _lowercase_recurrence_type(own)
    inherit = _lowercase_recurrence_type(inherit)
    rtype = own.get("recurrence_type", inherit.get("recurrence_type"))
    # The meeting wins: inherited values that do not apply to it, or contradict it, are dropped.
    if rtype != "weekly":
        inherit.pop("weekly_days", None)
    if rtype != "monthly":
        for name in MONTHLY_FIELDS:
            inherit.pop(name, None)
    if "end_date" in own or "occurrences" in own or {"end_date", "occurrences"} & bad:
        inherit.pop("end_date", None)
        inherit.pop("occurrences", None)
    if "monthly_day" in own:
        inherit.pop("monthly_week", None)
        inherit.pop("monthly_week_day", None)
    if "monthly_week" in own or "monthly_week_day" in own:
        inherit.pop("monthly_day", None)
    _drop_contradicting_registration(own, inherit)
    values = {**inherit, **own}
    paths = {k: ("meetings", index, k) for k in own} | {k: ("defaults", k) for k in inherit}
    if "password" not in values and "password" not in bad and shared_password is not None:
        values["password"] = shared_password
        paths["password"] = ("default_password",)
    return _Merged(index, values, paths, set(bad))


def _lowercase_recurrence_type(values: dict[str, Any]) -> dict[str, Any]:
    """The seed script lowercases recurrence_type before reading it ("Weekly" is weekly): so does zoomstate."""
    rtype = values.get("recurrence_type")
    if isinstance(rtype, str) and rtype != rtype.lower():
        return {**values, "recurrence_type": rtype.lower()}
    return values


def _drop_contradicting_registration(own: dict[str, Any], inherit: dict[str, Any]) -> None:
    if "enable_registration" in own and "approval_type" in inherit:
        if _registration_conflict(own["enable_registration"], inherit["approval_type"]):
            del inherit["approval_type"]
    if "approval_type" in own and "enable_registration" in inherit:
        if _registration_conflict(inherit["enable_registration"], own["approval_type"]):
            del inherit["enable_registration"]


def _registration_conflict(enabled: bool, approval: int) -> bool:
    return (not enabled and approval in (0, 1)) or (enabled and approval == 2)


def _check_meeting(m: _Merged, report: _Report) -> bool:
    """Cross-field rules; fills the calendar and registration defaults. True when the meeting is valid."""
    before = len(report.errors)
    v = m.values
    missing = [name for name in REQUIRED_AFTER_MERGE if name not in v]
    for name in missing:
        # A missing topic is the schema's to report: it cannot come from defaults.
        if name not in m.missing_ok and name != "topic":
            report.error(m.path, f"missing required field `{name}`",
                         f"set {name} on this meeting or in defaults:")
    rtype = v.get("recurrence_type")
    _check_end(m, report)
    if rtype is not None:
        _check_recurrence(m, rtype, report)
    _check_registration(m, report)
    if len(report.errors) > before or m.missing_ok or missing:
        return False
    if v.get("join_before_host") and v.get("waiting_room", True):
        # Sent as written: Zoom's documentation says the waiting room turns it off, recorded meetings keep both.
        report.add("warning", m.paths.get("join_before_host", m.path),
                   "join_before_host with the waiting room on: depending on the account, Zoom turns "
                   "join_before_host off or keeps both (people then wait in the waiting room anyway)",
                   "set waiting_room: false to let people in before the host, or join_before_host: false",
                   name=format_path(m.field_path("join_before_host")))
    if rtype == "weekly" and "weekly_days" not in v:
        v["weekly_days"] = (cal.zoom_weekday(v["start_date"]),)
    if rtype == "monthly" and not any(name in v for name in MONTHLY_FIELDS):
        v["monthly_day"] = v["start_date"].day
    return True


def _err(m: _Merged, name: str, message: str, hint: str, report: _Report) -> None:
    """An error about a field of a meeting, at the place its value was written (maybe in defaults)."""
    if m.inherited(name):
        message += " (the value comes from defaults)"
    report.add("error", m.paths.get(name, m.path), message, hint, name=format_path(m.field_path(name)))


def _check_end(m: _Merged, report: _Report) -> None:
    v = m.values
    if "end_date" in v and "occurrences" in v:
        blame = "occurrences" if not m.inherited("occurrences") else "end_date"
        _err(m, blame, "set end_date or occurrences, not both", "remove one of them", report)
    elif not ({"end_date", "occurrences"} & (v.keys() | m.missing_ok)) and not v.get("rolling"):
        report.error(m.path, "set end_date or occurrences: one of them is required",
                     "add `end_date: YYYY-MM-DD`, or `occurrences: N` from 1 to 50, or `rolling: true` for a "
                     "series without end")


def _check_recurrence(m: _Merged, rtype: str, report: _Report) -> None:
    v = m.values
    if "weekly_days" in v and rtype != "weekly":
        _err(m, "weekly_days", f"weekly_days is only for weekly meetings; this one is {rtype}",
             "remove weekly_days, or set recurrence_type: weekly", report)
    for name in MONTHLY_FIELDS:
        if name in v and rtype != "monthly":
            _err(m, name, f"{name} is only for monthly meetings; this one is {rtype}",
                 f"remove {name}, or set recurrence_type: monthly", report)
    if rtype == "monthly":
        written = v.keys() | m.missing_ok  # a wrong value is reported once, not again as "missing"
        has_week, has_week_day = "monthly_week" in written, "monthly_week_day" in written
        if "monthly_day" in v and has_week and has_week_day:
            # The seed script accepts both forms and then sends only monthly_week + monthly_week_day, dropping
            # monthly_day (its parse_recurrence_config: "mutually exclusive in Zoom API"); Zoom documents the
            # two forms as exclusive (recurrence object definitions). So the meeting Zoom holds follows the
            # week form: zoomstate reads the file the same way and sends only that form.
            report.add("warning", m.paths.get("monthly_day", m.path),
                       f"monthly_day {v['monthly_day']} is given together with monthly_week {v['monthly_week']} "
                       f"and monthly_week_day {v['monthly_week_day']}: Zoom uses monthly_week and "
                       "monthly_week_day (what the seed script sends), so monthly_day is ignored",
                       "remove monthly_day to keep the week form, or the two monthly_week fields for a day of "
                       "the month", name=format_path(m.field_path("monthly_day")))
            del v["monthly_day"]
        elif "monthly_day" in v and (has_week or has_week_day):
            _err(m, "monthly_day", "set monthly_day, or monthly_week with monthly_week_day, not both",
                 "keep one form: a day of the month, or a weekday of a week", report)
        elif has_week != has_week_day:
            present, absent = ("monthly_week", "monthly_week_day") if has_week else (
                "monthly_week_day", "monthly_week")
            _err(m, present, f"{present} needs {absent}: set both together",
                 "e.g. monthly_week: 2 and monthly_week_day: 3 for the second Tuesday", report)
    limit = MAX_INTERVAL[rtype]
    if v.get("repeat_interval", 1) > limit:
        unit = {"daily": "days", "weekly": "weeks", "monthly": "months"}[rtype]
        _err(m, "repeat_interval", f"repeat_interval is at most {limit} for {rtype} meetings "
             f"(every {limit} {unit}), not {v['repeat_interval']}",
             f"write a number from 1 to {limit}", report)


def _check_registration(m: _Merged, report: _Report) -> None:
    v = m.values
    enabled, approval = v.get("enable_registration"), v.get("approval_type")
    if enabled is not None and approval is not None and _registration_conflict(enabled, approval):
        if enabled:
            message = "approval_type 2 means no registration, but enable_registration is true"
            hint = "remove approval_type, or set enable_registration: false"
        else:
            kind = "automatic" if approval == 0 else "manual"
            message = f"enable_registration is false, but approval_type {approval} ({kind} approval) needs it"
            hint = "remove approval_type, or set enable_registration: true"
        _err(m, "approval_type", message, hint, report)
        return
    if enabled is False:
        v["approval_type"] = 2
    elif approval == 2:
        v["enable_registration"] = False


# -- keys ---------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """Lowercase ASCII letters and digits, other runs -> "-", trimmed: "Café Sync!" -> "cafe-sync"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def derive_key(host_email: str, topic: str) -> str:
    """The key of a meeting that sets none: ``slug(host local part) + "-" + slug(topic)``, max 64."""
    parts = [p for p in (slug(host_email.split("@")[0]), slug(topic)) if p]
    return "-".join(parts)[:KEY_MAX].rstrip("-")


def _check_keys(merged: list[_Merged], report: _Report) -> dict[int, str]:
    keys: dict[int, str] = {}
    explicit: dict[int, bool] = {}
    for m in merged:
        v = m.values
        if "key" in v:
            keys[m.index], explicit[m.index] = v["key"], True
        elif "host_email" in v and "topic" in v:
            key = derive_key(v["host_email"], v["topic"])
            if not key:
                report.error(m.path, "cannot derive a key from host_email and topic", "add an explicit key:")
                continue
            keys[m.index], explicit[m.index] = key, False
    by_key: dict[str, list[int]] = {}
    for index, key in keys.items():
        by_key.setdefault(key, []).append(index)
    for key, indexes in by_key.items():
        if len(indexes) > 1:
            _duplicate_key(key, indexes, explicit, report)
    _duplicate_host_topic(merged, report)
    return keys


def _duplicate_key(key: str, indexes: list[int], explicit: dict[int, bool], report: _Report) -> None:
    # Each message names a few of the other meetings and counts the rest: naming all of them would make
    # a file with thousands of copies quadratic.
    all_explicit = all(explicit[i] for i in indexes)
    hint = "keys must be unique: rename one" if all_explicit else "add an explicit key: to tell these meetings apart"
    for index in indexes:
        others = []
        for other in indexes:
            if len(others) == DUPLICATES_NAMED:
                break
            if other != index:
                pos = report.doc.position(("meetings", other))
                others.append(f"meetings[{other}]" + (f" (line {pos.line})" if pos else ""))
        rest = len(indexes) - 1 - len(others)
        named = ", ".join(others) + (f" and {rest} more" if rest else "")
        path: PathTuple = ("meetings", index, "key") if explicit[index] else ("meetings", index)
        how = "" if explicit[index] else "derived "
        report.add("error", path, f"{how}key `{key}` is also the key of {named}", hint,
                   name=format_path(("meetings", index, "key")))


def _duplicate_host_topic(merged: list[_Merged], report: _Report) -> None:
    seen: dict[tuple[str, str], int] = {}
    for m in merged:
        host, topic = m.values.get("host_email"), m.values.get("topic")
        if not isinstance(host, str) or not isinstance(topic, str):
            continue
        pair = (host.lower(), topic)
        if pair in seen:
            first = report.doc.position(("meetings", seen[pair]))
            report.warning(m.field_path("topic"), f"same host and topic as meetings[{seen[pair]}]"
                           + (f" (line {first.line})" if first else ""),
                           "two meetings with one title confuse attendees; check it is not a copy")
        else:
            seen[pair] = m.index


# -- building -----------------------------------------------------------------------------------


class _FieldPositions(Mapping[str, Position]):
    """A meeting's field -> Position, each Position made when asked for.

    A large file has a dozen fields per meeting; building, keeping and garbage-collecting a Position for each
    cost more than the few messages that name one. Each is kept as one int (line << 32 | column), which the
    garbage collector does not track, unlike a (line, column) tuple.
    """

    __slots__ = ("_file", "_where")

    def __init__(self, file: str, where: dict[str, int]):
        self._file = file
        self._where = where

    def __getitem__(self, name: str) -> Position:
        line, col = divmod(self._where[name], 1 << 32)
        return Position(self._file, line, col)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __repr__(self) -> str:
        return f"{{{', '.join(f'{name!r}: {self[name]!r}' for name in self._where)}}}"


def _spec(m: _Merged, key: str, doc: Document) -> MeetingSpec:
    where = {name: found[0] << 32 | found[1]
             for name, found in zip(m.paths, doc.line_cols(m.paths.values()), strict=True) if found is not None}
    fields = {k: v for k, v in m.values.items() if k != "key"}
    return MeetingSpec(key=key, **fields, position=doc.position(m.path),
                       field_positions=_FieldPositions(doc.path, where))


def default_state_path(meetings_path: str | Path) -> Path:
    """Where the state file is when no --state is given: ``state/zoomstate.json`` beside the meetings file."""
    return Path(meetings_path).resolve().parent / "state" / "zoomstate.json"


def output_file_problem(output: Path, meetings_path: Path, state_path: Path) -> str | None:
    """Why the CSV may not be written at ``output``, or None when it may.

    The CSV is rewritten after every apply, so it must stay inside the meetings file's folder (symlinks and
    ``..`` resolved) and be none of the files zoomstate reads: the meetings file, the state file, and the
    state's companions beside it (``.backup``, ``.lock``, and any other ``zoomstate.json.*``).
    """
    try:
        folder = meetings_path.resolve().parent
        target = output.resolve()
        state = state_path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python 3.11)
        return "cannot be resolved: a symlink in its path loops or cannot be read"
    if target == folder or not target.is_relative_to(folder):
        return f"must be inside the meetings file's folder {printable(str(folder))}"
    if target == meetings_path.resolve():
        return "is the meetings file itself"
    if target == state:
        return "is the state file"
    if target.parent == state.parent and target.name.startswith(state.name + "."):
        return f"is the state file's {printable(target.name.removeprefix(state.name))} file"
    return None


def _output_file(root: Mapping[str, Any], report: _Report, meetings_path: Path, state_path: Path | None) -> str:
    value = root.get("output_file")
    if not isinstance(value, str) or not value or report.is_bad(("output_file",)):
        value = DEFAULT_OUTPUT_FILE
    out = Path(value).expanduser()
    out = out if out.is_absolute() else meetings_path.parent / out
    problem = output_file_problem(out, meetings_path, state_path or default_state_path(meetings_path))
    if problem is not None:
        report.error(("output_file",), f"the CSV file {problem}",
                     "write a file name such as zoom_meetings.csv, or a path below this folder")
    return str(out)


def _credentials(root: Mapping[str, Any], report: _Report) -> dict[str, str]:
    block = root.get("zoom_api")
    if block is None:
        return {}
    report.warning(("zoom_api",), "credentials in the meetings file: move them to ZOOM_ACCOUNT_ID / "
                   "ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET", "remove the zoom_api block from this file",
                   key=True)
    if not isinstance(block, dict):
        return {}
    return {k: v for k, v in block.items() if isinstance(v, str) and not report.is_bad(("zoom_api", k))}


def load_desired(path: str | Path, *, environ: Mapping[str, str] | None = None,
                 now: datetime | None = None, state_path: str | Path | None = None) -> DesiredConfig:
    """Load, check and resolve a meetings file. Raises ``InputError`` with every error in the file.

    ``state_path`` is the state file the command uses (default: ``state/zoomstate.json`` beside the file):
    ``output_file`` may not name it or its companions.
    """
    doc = load_document(path)
    report = _Report(doc)
    root = _substitute(doc.root, (), os.environ if environ is None else environ, report)
    _control_characters(root, (), report)
    _schema_errors(root, report)
    specs = _meetings(root, report, now or datetime.now(UTC))
    output_file = _output_file(root, report, Path(path), Path(state_path) if state_path is not None else None)
    credentials = _credentials(root, report)
    if report.errors:
        raise InputError(sorted(report.errors, key=_line_order), uncounted=report.uncounted)
    return DesiredConfig(
        path=doc.path, sha256=doc.sha256, output_file=output_file, meetings=specs,
        max_concurrent_meetings_per_host=max_concurrent(root),
        warnings=sorted(report.warnings, key=_line_order), credentials=credentials,
    )


def _meetings(root: Mapping[str, Any], report: _Report, now: datetime) -> dict[str, MeetingSpec]:
    items = root.get("meetings")
    if not isinstance(items, list):
        return {}
    raw_defaults = root.get("defaults")
    raw_defaults = raw_defaults if isinstance(raw_defaults, dict) else {}
    defaults = _check_values(raw_defaults, ("defaults",), report)
    bad_defaults = {k for k in raw_defaults if k not in defaults}
    shared = root.get("default_password")
    if report.is_bad(("default_password",)):
        shared = None
    merged: list[_Merged] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or report.is_bad(("meetings", index)):
            continue
        own = _check_values(item, ("meetings", index), report)
        bad = {k for k in item if k not in own and k in _field_types()}
        inherited_bad = {k for k in bad_defaults if k not in item}
        merged.append(_merge(index, own, defaults, shared, bad | inherited_bad))
    calendars = _calendars(root, report)
    for m in merged:
        _resolve_skips(m, calendars, report)
    valid = [m for m in merged if _check_meeting(m, report)]
    keys = _check_keys(merged, report)
    specs: dict[str, MeetingSpec] = {}
    for m in valid:
        key = keys.get(m.index)
        if key is None or key in specs:
            continue
        spec = _spec(m, key, report.doc)
        specs[key] = spec
        for diag in cal.check(spec, now):
            (report.errors if diag.severity == "error" else report.warnings).append(diag)
    report.warnings.extend(cal.double_bookings(specs.values(), now, max_concurrent(root)))
    return specs


def max_concurrent(root: Mapping[str, Any]) -> int:
    """The top-level max_concurrent_meetings_per_host (checked by the schema), 1 when absent."""
    value = root.get("max_concurrent_meetings_per_host", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def _calendars(root: Mapping[str, Any], report: _Report) -> dict[str, tuple[date, ...]]:
    """The top-level calendars: name -> its dates; a date that is not real is an error at its place."""
    block = root.get("calendars")
    if not isinstance(block, dict) or report.is_bad(("calendars",)):
        return {}
    out: dict[str, tuple[date, ...]] = {}
    for name, items in block.items():
        if not isinstance(items, list) or report.has_bad(("calendars", name)):
            continue
        dates = []
        for i, text in enumerate(items):
            try:
                dates.append(date.fromisoformat(text))
            except (TypeError, ValueError):
                report.error(("calendars", name, i), f"{text} is not a real date", "check the day and month")
        out[name] = tuple(dates)
    return out


def _resolve_skips(m: _Merged, calendars: Mapping[str, tuple[date, ...]], report: _Report) -> None:
    """skip_dates as dates: each item a date or the name of a calendar."""
    items = m.values.get("skip_dates")
    if items is None:
        return
    base = m.paths.get("skip_dates", m.field_path("skip_dates"))
    found: list[date] = []
    for i, text in enumerate(items):
        if text in calendars:
            found.extend(calendars[text])
            continue
        try:
            found.append(date.fromisoformat(text))
        except ValueError:
            known = ", ".join(sorted(calendars)) or "none are defined"
            report.error((*base, i), f"`{text}` is neither a date (YYYY-MM-DD) nor a calendar name",
                         f"calendars: {known}")
    m.values["skip_dates"] = tuple(sorted(set(found)))
