"""Write docs/meetings-reference.md from schemas/meetings.schema.json (and MeetingSpec's defaults).

    python docs/make_reference.py          # rewrite the reference
    python docs/make_reference.py --check  # exit 1 when it is out of date (the tests run this check)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "meetings.schema.json"
TARGET = ROOT / "docs" / "meetings-reference.md"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    while "$ref" in node and node["$ref"] not in seen:  # a reference cycle stops at the first repeat
        seen.add(node["$ref"])
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**schema["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _kind(schema: dict[str, Any], node: dict[str, Any]) -> str:
    node = _resolve(schema, node)
    if "anyOf" in node or "oneOf" in node:
        return " or ".join(_kind(schema, n) for n in node.get("anyOf", node.get("oneOf", [])))
    kind = node.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if "enum" in node:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    limits = []
    if "minimum" in node or "maximum" in node:
        limits.append(f"{node.get('minimum', '')}..{node.get('maximum', '')}")
    if "maxLength" in node:
        limits.append(f"at most {node['maxLength']} characters")
    if "pattern" in node:
        limits.append(f"pattern `{node['pattern']}`")
    if node.get("format"):
        limits.append(node["format"])
    if kind == "array" and "items" in node:
        kind = f"list of ({_kind(schema, node['items'])})"
    return kind + (f" ({', '.join(limits)})" if limits else "")


def _defaults() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from zoomstate.model import MeetingSpec

    out = {}
    for f in dataclasses.fields(MeetingSpec):
        if f.default is not dataclasses.MISSING and f.name not in ("position",):
            out[f.name] = f.default
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_reference() -> str:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defaults = _defaults()
    lines = [
        "# meetings.yaml reference",
        "",
        "Generated from `schemas/meetings.schema.json` by `python docs/make_reference.py`; the tests fail when",
        "it is out of date. Beyond these per-field rules, `zoomstate validate` checks the rules that span fields",
        "and the calendar (see the README).",
        "",
        "## Top level",
        "",
        "| field | type | description |",
        "|---|---|---|",
    ]
    for name, node in schema["properties"].items():
        resolved = _resolve(schema, node)
        lines.append(f"| `{name}` | {_cell(_kind(schema, node))} | {_cell(resolved.get('description', ''))} |")
    meeting = schema["$defs"]["meeting"]
    required = set(meeting.get("required", []))
    lines += [
        "",
        "## A meeting (an item of `meetings`, and the fields `defaults` may set)",
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, node in meeting["properties"].items():
        resolved = _resolve(schema, node)
        if name in required:
            default = "required"
        elif name in defaults and defaults[name] is not None:
            default = f"`{json.dumps(defaults[name])}`"
        else:
            default = ""
        lines.append(f"| `{name}` | {_cell(_kind(schema, node))} | {default} | "
                     f"{_cell(resolved.get('description', ''))} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render_reference()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python docs/make_reference.py")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
