"""Contract checks against Zoom's published OpenAPI document (``../shared/zoom-api/ZoomMeetingAPISpec.json``).

Client tests check the requests they send and sandbox tests check the responses they get, both against
the same document, so the two cannot drift into agreeing on a mistake.

The document is not strictly valid OpenAPI (upper-case ``style``, ``extensions`` objects), so only the
operations' request and response sub-schemas are used, cleaned of OpenAPI-only keywords and validated with
Draft 7 semantics.

    from tests import contract
    contract.validate_request("meetingCreate", body)
    contract.validate_response("meeting", 200, response.json())
"""

from __future__ import annotations

import copy
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker
from rfc3339_validator import validate_rfc3339

SPEC_NAME = "ZoomMeetingAPISpec.json"
_SKIP_MESSAGE = (
    "../shared/zoom-api/ZoomMeetingAPISpec.json not found: "
    "contract tests need the shared folder beside the repo"
)

# OpenAPI 3.0 keywords that are not JSON Schema (or that would change meaning under Draft 7).
_OPENAPI_ONLY = {
    "example", "examples", "extensions", "deprecated", "nullable", "readOnly", "writeOnly", "discriminator",
    "xml", "externalDocs", "style", "explode",
}
# Schema keywords whose value is a single sub-schema, a list of them, or a name -> schema map.
_ONE_SCHEMA = ("items", "additionalProperties", "not", "additionalItems", "propertyNames", "contains")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")

# Zoom documents a second start_time form for requests: local wall-clock time without an offset.
_LOCAL_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")

_lock = threading.Lock()
_spec_cache: dict[Path, dict] = {}
_schema_cache: dict[tuple[Path, str, str, int | None], dict] = {}


# ----------------------------------------------------------------------------------------- locating


def shared_dir() -> Path:
    """The ``shared`` folder: env ZOOMSTATE_SHARED_DIR, else beside the repository."""
    env = os.environ.get("ZOOMSTATE_SHARED_DIR")
    if env:
        return Path(env).expanduser()
    repo = Path(__file__).resolve().parent.parent
    return repo.parent / "shared"


def spec_path() -> Path:
    return shared_dir() / "zoom-api" / SPEC_NAME


def spec_available() -> bool:
    return spec_path().is_file()


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def require_spec() -> None:
    """Skip the calling test when the document is absent; fail instead in CI, where skips hide gaps."""
    if spec_available():
        return
    if _ci():
        pytest.fail(f"{spec_path()} not found and CI is set: contract tests must not skip in CI")
    pytest.skip(_SKIP_MESSAGE)


def load_spec() -> dict:
    """The parsed document, loaded once per process (it is about 2 MB)."""
    require_spec()
    path = spec_path()
    with _lock:
        if path not in _spec_cache:
            _spec_cache[path] = json.loads(path.read_text(encoding="utf-8"))
        return _spec_cache[path]


# ------------------------------------------------------------------------------------------ schemas


def _operation(spec: dict, operation_id: str) -> dict:
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(f"operationId {operation_id!r} not found in {SPEC_NAME}")


def _pointer(spec: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = spec
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _resolve(spec: dict, node: Any, seen: tuple[str, ...] = ()) -> Any:
    """A copy of ``node`` with every ``$ref`` inlined (a cycle raises rather than recursing forever)."""
    if isinstance(node, list):
        return [_resolve(spec, item, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"recursive $ref {ref!r} cannot be inlined")
        return _resolve(spec, _pointer(spec, ref), (*seen, ref))
    return {key: _resolve(spec, value, seen) for key, value in node.items()}


def _clean(schema: Any) -> Any:
    """Make an OpenAPI 3.0 schema plain Draft 7: drop OpenAPI-only keywords, turn ``nullable`` into a type.

    Walks keyword positions only, so a property that happens to be named ``example`` is kept.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in _ONE_SCHEMA and isinstance(value, dict):
            out[key] = _clean(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean(item) for item in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _clean(sub) for name, sub in value.items()}
        elif key == "required" and not isinstance(value, list):
            continue  # a boolean "required" is OpenAPI parameter syntax, not a schema keyword
        else:
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "enum" in out and schema.get("nullable") is True and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _drop_weekly_days_enum(schema: Any) -> None:
    """The spec's weekly_days enum lists single digits, but Zoom documents comma lists ("2,4") as valid."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict) and isinstance(props.get("weekly_days"), dict):
            props["weekly_days"].pop("enum", None)
        for value in schema.values():
            _drop_weekly_days_enum(value)
    elif isinstance(schema, list):
        for item in schema:
            _drop_weekly_days_enum(item)


def _prepare(spec: dict, raw: dict) -> dict:
    schema = _clean(_resolve(spec, raw))
    _drop_weekly_days_enum(schema)
    return schema


def _json_schema(content: dict | None, what: str) -> dict:
    media = (content or {}).get("application/json")
    if not isinstance(media, dict) or "schema" not in media:
        raise KeyError(f"{what} has no application/json schema in {SPEC_NAME}")
    return media["schema"]


def request_schema(operation_id: str) -> dict:
    """The resolved, cleaned JSON schema of an operation's application/json request body."""
    require_spec()  # before the cache: a spec that went missing must still skip (or fail in CI)
    key = (spec_path(), "request", operation_id, None)
    with _lock:
        cached = _schema_cache.get(key)
    if cached is None:
        spec = load_spec()
        operation = _operation(spec, operation_id)
        body = _resolve(spec, operation.get("requestBody") or {})
        cached = _prepare(spec, _json_schema(body.get("content"), f"{operation_id} request body"))
        with _lock:
            _schema_cache[key] = cached
    return copy.deepcopy(cached)


def response_schema(operation_id: str, status: int) -> dict:
    """The resolved, cleaned JSON schema of an operation's response for ``status``."""
    require_spec()
    key = (spec_path(), "response", operation_id, int(status))
    with _lock:
        cached = _schema_cache.get(key)
    if cached is None:
        spec = load_spec()
        responses = _operation(spec, operation_id).get("responses", {})
        response = responses.get(str(status))
        if response is None:
            raise KeyError(f"{operation_id} declares no {status} response (has {sorted(responses)})")
        response = _resolve(spec, response)
        cached = _prepare(spec, _json_schema(response.get("content"), f"{operation_id} {status} response"))
        with _lock:
            _schema_cache[key] = cached
    return copy.deepcopy(cached)


def declares_body(operation_id: str, status: int) -> bool:
    """Whether the document gives a JSON body for this response (204s and most errors have none)."""
    response = _operation(load_spec(), operation_id).get("responses", {}).get(str(status))
    return bool(isinstance(response, dict) and (response.get("content") or {}).get("application/json"))


# ------------------------------------------------------------------------------------------- checks


def _format_checker(allow_local_time: bool) -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if validate_rfc3339(value):
            return True
        return allow_local_time and bool(_LOCAL_DATE_TIME.match(value))

    @checker.checks("email")
    def _email(value: object) -> bool:
        return not isinstance(value, str) or "@" in value

    return checker


_REQUEST_FORMATS = _format_checker(allow_local_time=True)
_RESPONSE_FORMATS = _format_checker(allow_local_time=False)


def _where(error: Any) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def _check(schema: dict, body: Any, checker: FormatChecker, what: str) -> None:
    validator = Draft7Validator(schema, format_checker=checker)
    errors = sorted(validator.iter_errors(body), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        lines = [f"  - {_where(e)}: {e.message}" for e in errors]
        raise AssertionError(f"{what} violates {SPEC_NAME} ({len(errors)} problem(s)):\n" + "\n".join(lines))


def validate_request(operation_id: str, body: Any) -> None:
    """Raise AssertionError listing every way ``body`` breaks the operation's request schema.

    ``start_time`` may be local wall-clock time without an offset, as Zoom documents for requests.
    """
    _check(request_schema(operation_id), body, _REQUEST_FORMATS, f"{operation_id} request body")


def validate_response(operation_id: str, status: int, body: Any) -> None:
    """Raise AssertionError listing every way ``body`` breaks the documented response for ``status``.

    Responses the document gives no body for (204) must be empty: ``None``, ``""`` or ``b""``.
    """
    what = f"{operation_id} {status} response"
    if not declares_body(operation_id, status):
        responses = _operation(load_spec(), operation_id).get("responses", {})
        if str(status) not in responses:
            raise AssertionError(f"{what}: status not documented (has {sorted(responses)})")
        if body not in (None, "", b""):
            raise AssertionError(f"{what}: the document declares no body, got {body!r:.200}")
        return
    _check(response_schema(operation_id, status), body, _RESPONSE_FORMATS, what)


# Zoom's API error body: {"code", "message"} plus "errors" on validation failures (FACTS §9). The
# document only describes errors in prose, so this shape is written out here.
ERROR_SCHEMA: dict = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string", "minLength": 1},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def validate_error(body: Any) -> None:
    """Raise AssertionError unless ``body`` has Zoom's API error shape."""
    _check(ERROR_SCHEMA, body, _RESPONSE_FORMATS, "error body")
