"""The meetings.yaml reference matches the schema, and the README keeps its promises."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reference_is_generated_from_the_current_schema():
    make = runpy.run_path(str(ROOT / "docs" / "make_reference.py"))
    assert make["main"](["--check"]) == 0, "run: python docs/make_reference.py"
    text = (ROOT / "docs" / "meetings-reference.md").read_text()
    schema = json.loads((ROOT / "schemas" / "meetings.schema.json").read_text())
    for name in schema["$defs"]["meeting"]["properties"]:
        assert f"| `{name}` |" in text


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme


def test_the_shipped_schema_is_usable_by_editors_as_it_is():
    """Editors validate with the file itself (no zoomstate code): it must be a sound 2020-12 schema."""
    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "schemas" / "meetings.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    good = {"meetings": [{"topic": "Sync", "password": "${TEAM_PASSCODE}", "weekly_days": "2,4"}]}
    assert list(validator.iter_errors(good)) == []
    bad = {"meetings": [{"topic": "Sync", "password": "far-too-long-passcode"}]}
    assert list(validator.iter_errors(bad))
