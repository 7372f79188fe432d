"""The example CI workflows and the pre-commit hook parse, and every zoomstate command they run exists."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from zoomstate.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "examples" / "github-actions").glob("*.yml"))


def _zoomstate_commands(text: str) -> list[list[str]]:
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True) if "zoomstate " in line else []
        while "zoomstate" in words:
            words = words[words.index("zoomstate") + 1:]
            command = []
            for word in words:
                if word in (">", ">>", "|", "||", "&&", ";"):
                    break
                command.append(word)
            if command:
                commands.append(command)
            words = words[len(command):]
    return commands


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} == {"zoomstate-plan.yml", "zoomstate-apply.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_its_commands_exist(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["jobs"]
    runs = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    commands = [c for run in runs for c in _zoomstate_commands(run)]
    assert commands, "the workflow runs zoomstate"
    parser = build_parser()
    for command in commands:
        parser.parse_args(command)  # exits (fails the test) on an unknown command or flag
    text = path.read_text()
    # Credentials only ever come from repository secrets.
    assert "ZOOM_CLIENT_SECRET: ${{ secrets.ZOOM_CLIENT_SECRET }}" in text


def test_pre_commit_hook_runs_validate():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = hooks[0]
    assert hook["id"] == "zoomstate-validate"
    words = shlex.split(hook["entry"])[1:] + ["meetings.yaml"]
    args = build_parser().parse_args(words)
    assert args.command == "validate" and str(args.meetings) == "meetings.yaml"
