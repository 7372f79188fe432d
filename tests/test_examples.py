"""The example CI workflows, the action and the pre-commit hook: they parse, pin what they use, call only what
exists (zoomstate commands, the action's inputs and outputs, its scripts), and pass actionlint."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import meeting, write_meetings
from zoomstate.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "github-actions"
WORKFLOWS = sorted(EXAMPLES.glob("*.yml"))
ACTION = ROOT / "action.yml"
OWN_ACTION = "OWNER/zoomstate@COMMIT_SHA"  # the placeholder the README explains
PINNED = re.compile(r"^\s*-?\s*uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def _expand(text: str) -> str:
    """A workflow expression replaced by a value it can take: its flag literal, else "true"."""
    def value(match: re.Match) -> str:
        flag = re.search(r"'(--[\w-]+)'", match.group(1))
        return flag.group(1) if flag else "true"
    return EXPRESSION.sub(value, text)


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} == {"zoomstate-plan.yml", "zoomstate-apply.yml", "zoomstate-health.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_zoomstate_through_the_action_with_commands_that_exist(path):
    workflow = _load(path)
    ours = [s for s in _steps(workflow) if s.get("uses") == OWN_ACTION]
    assert ours, "the workflow uses the project's own action"
    parser = build_parser()
    for step in ours:
        words = [step["with"]["command"], *shlex.split(_expand(step["with"].get("args", "")))]
        parser.parse_args(words)  # exits (fails the test) on an unknown command or flag
    text = path.read_text()
    assert "pip install zoomstate" not in text  # nothing comes from a package name the project does not hold
    assert "ZOOM_CLIENT_SECRET: ${{ secrets." in text  # credentials only ever come from repository secrets
    assert re.search(r"ZOOM_CLIENT_SECRET: (?!\$\{\{ secrets\.)", text) is None


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_every_third_party_action_is_pinned_by_full_commit_sha(path):
    uses = [line for line in path.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert uses
    for line in uses:
        if line.split("uses:")[1].strip() == OWN_ACTION:
            continue
        assert PINNED.match(line), f"not pinned to a commit SHA with its version: {line.strip()}"


def test_action_installs_from_its_own_checkout_and_declares_what_it_uses():
    action = _load(ACTION)
    assert action["runs"]["using"] == "composite"
    text = ACTION.read_text()
    assert "${{ github.action_path }}" in text and "pip install zoomstate" not in text
    steps = action["runs"]["steps"]
    ids = {s.get("id") for s in steps}
    for step in steps:
        assert "uses" in step or step.get("shell") == "bash", "a composite run step needs its shell"
    for name in re.findall(r"inputs\.([\w-]+)", text):
        assert name in action["inputs"], name
    for step_id, _ in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
        assert step_id in ids, step_id
    assert {"command", "args", "working-directory", "python-version"} <= set(action["inputs"])
    assert {"exit-code", "output-file", "log-file", "scripts-dir"} <= set(action["outputs"])
    install = (EXAMPLES / "scripts" / "install.sh").read_text()
    assert 'pip install --quiet --disable-pip-version-check "$source_dir"' in install and "venv" in install


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_use_only_the_action_inputs_outputs_and_scripts_that_exist(path):
    action = _load(ACTION)
    workflow = _load(path)
    ours = {s["id"] for s in _steps(workflow) if s.get("uses") == OWN_ACTION}
    for step in _steps(workflow):
        if step.get("uses") == OWN_ACTION:
            assert set(step.get("with", {})) <= set(action["inputs"]), step["name"]
    text = path.read_text()
    for step_id, output in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
        if step_id in ours:
            assert output in action["outputs"], f"{step_id}.{output}"
    for script in re.findall(r'\$SCRIPTS/([\w.-]+)', text):
        assert (EXAMPLES / "scripts" / script).is_file(), script


def test_the_steps_that_report_run_even_when_zoomstate_failed():
    plan = _steps(_load(EXAMPLES / "zoomstate-plan.yml"))
    post = next(s for s in plan if "plan_comment.py" in s.get("run", ""))
    assert post["if"].startswith("always()")
    assert next(s for s in plan if s.get("id") == "plan")["with"]["fail-on-error"] == "false"
    assert "--refresh=${{ steps.mode.outputs.refresh }}" in next(s for s in plan if s.get("id") == "plan")["with"][
        "args"]
    apply = _load(EXAMPLES / "zoomstate-apply.yml")
    commit = next(s for s in _steps(apply) if "commit-back.sh" in s.get("run", ""))
    assert commit["if"].startswith("always()")
    assert apply[True]["workflow_dispatch"]["inputs"]["force"]["type"] == "boolean"  # yaml reads `on:` as True
    assert "inputs.force && '--force'" in next(s for s in _steps(apply) if s.get("id") == "apply")["with"]["args"]
    health = (EXAMPLES / "zoomstate-health.yml").read_text()
    assert "schedule:" in health and "command: check" in health and "--format markdown" in health
    assert "health_issue.py" in health


def _actionlint() -> list[str] | None:
    found = shutil.which("actionlint") or shutil.which("actionlint", path=str(Path(sys.executable).parent))
    return [found] if found else None


def test_workflows_and_the_action_pass_actionlint(tmp_path):
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed (the test extra installs it on Linux x86_64)")
    # The workflows as a user's repository would hold them, with the action checked out beside them, so that
    # actionlint also checks the action's metadata and every input the workflows pass to it.
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ACTION, tmp_path / "action.yml")
    for path in WORKFLOWS:
        text = path.read_text().replace(OWN_ACTION, "./")
        (tmp_path / ".github" / "workflows" / path.name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # actionlint finds workflows by the repository
    result = subprocess.run([*actionlint, "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_commit_hook_checks_every_file_it_is_given(tmp_path, capsys):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = hooks[0]
    assert hook["id"] == "zoomstate-validate" and hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for name in ("meetings.yaml", "teams/berlin/meetings.yml", "meetings.json"):
        assert files.search(name), name
    assert not files.search("state/zoomstate.json") and not files.search("old-meetings.yaml.bak")
    entry = shlex.split(hook["entry"])[0]
    assert f'{entry} = "zoomstate.precommit:main"' in (ROOT / "pyproject.toml").read_text()

    from zoomstate import precommit

    good = write_meetings(tmp_path / "meetings.yaml", [meeting("a")])
    (tmp_path / "teams" / "berlin").mkdir(parents=True)
    nested = write_meetings(tmp_path / "teams" / "berlin" / "meetings.yml", [meeting("b")])
    bad_json = tmp_path / "meetings.json"
    bad_json.write_text('{"meetings": [{"key": "c", "host_email": "x@example.com", "duration": 0}]}')
    assert precommit.main([str(good), str(nested)]) == 0
    out = capsys.readouterr().out
    assert f"{good}: valid" in out and f"{nested}: valid" in out
    assert precommit.main([str(bad_json), str(good)]) == 1
    captured = capsys.readouterr()
    assert str(bad_json) in captured.err and f"{good}: valid" in captured.out  # every file is checked
