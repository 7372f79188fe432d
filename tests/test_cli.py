"""The command line as a Terraform user expects it: exit codes, per-command flags, environment defaults,
machine-readable output, saved plans, completion, the schema reference, and start-up that imports little."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import cli
from zoomstate.convert import schema_path
from zoomstate.desired import load_schema
from zoomstate.state import StateStore

ROOT = Path(__file__).resolve().parent.parent


def help_text(capsys, *command: str) -> str:
    capsys.readouterr()
    assert cli.main([*command, "--help"], environ={}) == 0
    return capsys.readouterr().out


# --------------------------------------------------------------------------------------------- start-up

IMPORTS = """
import json, runpy, sys
sys.argv = ["zoomstate", *json.loads(sys.argv[1])]
try:
    runpy.run_module("zoomstate", run_name="__main__")
except SystemExit:
    pass
sys.stderr.write("\\nMODULES=" + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_modules(*argv: str, cwd: Path = ROOT) -> set[str]:
    """The modules a real `python -m zoomstate ARGV` has imported when it ends."""
    proc = subprocess.run([sys.executable, "-c", IMPORTS, json.dumps(list(argv))], cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def _loaded(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if m in prefixes or m.startswith(tuple(p + "." for p in prefixes)))


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("plan", "--help")])
def test_version_and_help_import_no_pipeline_and_no_rich(argv):
    modules = loaded_modules(*argv)
    assert "zoomstate.cli" in modules
    heavy = ("zoomstate.manager", "zoomstate.desired", "zoomstate.plan", "zoomstate.render", "zoomstate.sandbox",
             "zoomstate.zoom", "zoomstate.apply", "rich", "requests", "yaml", "jsonschema")
    assert _loaded(modules, *heavy) == []


def test_validate_imports_no_server_client_applier_or_rich(tmp_path):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", timezone="UTC")])
    modules = loaded_modules("validate", "-f", str(path))
    assert "zoomstate.desired" in modules  # it did validate
    assert _loaded(modules, "zoomstate.sandbox", "zoomstate.zoom", "zoomstate.apply", "requests", "http.server",
                   "rich") == []


# --------------------------------------------------------------------------------------------- parser


def test_usage_errors_exit_1_with_argparses_message(capsys):
    assert cli.main(["plan", "--no-such-flag"], environ={}) == 1
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
    assert cli.main(["apply", "--parallelism", "many"], environ={}) == 1
    assert "invalid int value: 'many'" in capsys.readouterr().err
    assert cli.main(["no-such-command"], environ={}) == 1


def test_usage_errors_exit_1_from_the_installed_entry_point(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "zoomstate", "show", "--parallelism", "4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "unrecognized arguments: --parallelism" in proc.stderr


def test_each_command_lists_only_the_flags_it_takes(capsys):
    refresh_only = ("--parallelism", "--target")
    for command in (("show",), ("state", "list"), ("state", "rm"), ("force-unlock",), ("export",)):
        text = help_text(capsys, *command)
        assert "--state" in text and "-f FILE" in text, command
        for flag in (*refresh_only, "--zoom-plan", "--auto-approve", "--detailed-exitcode"):
            assert flag not in text, (command, flag)
    validate = help_text(capsys, "validate")
    assert "--state" not in validate and "--sandbox" not in validate and "--parallelism" not in validate
    for command in ("plan", "apply"):
        text = help_text(capsys, command)
        assert all(flag in text for flag in (*refresh_only, "--zoom-plan", "--sandbox", "--quiet"))
    assert "--parallelism" not in help_text(capsys, "import")
    assert "--state" not in help_text(capsys, "init")


def test_help_documents_the_environment(capsys):
    top = help_text(capsys)
    plan = help_text(capsys, "plan")
    for name in ("ZOOMSTATE_FILE", "ZOOMSTATE_STATE", "ZOOM_API_URL", "ZOOM_OAUTH_URL", "ZOOM_CLIENT_SECRET"):
        assert name in top and name in plan


def test_zoomstate_file_and_state_come_from_the_environment(tmp_path, run, zoom_env, sandbox):
    path = write_meetings(tmp_path / "team.yaml", [meeting("team-sync")])
    state = tmp_path / "elsewhere" / "team-state.json"
    env = dict(zoom_env, ZOOMSTATE_FILE=str(path), ZOOMSTATE_STATE=str(state))
    result = run("apply", "--auto-approve", env=env)
    assert result.code == 0, result.err
    assert set(StateStore(state).load().meetings) == {"team-sync"}
    assert not (tmp_path / "state").exists()
    assert run("validate", env=env).out.startswith(f"{path}: valid, 1 meeting")
    # An explicit flag wins over the environment.
    other = write_meetings(tmp_path / "other.yaml", [meeting("other")])
    assert "other.yaml: valid" in run("validate", "-f", other, env=env).out


def test_the_sandbox_keeps_its_own_state_whatever_zoomstate_state_says(tmp_path, capsys, clock):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    real_state = tmp_path / "real.json"
    env = {"ZOOMSTATE_FILE": str(path), "ZOOMSTATE_STATE": str(real_state)}
    assert cli.main(["apply", "--sandbox", "--auto-approve"], clock=clock, environ=env) == 0
    assert not real_state.exists()
    assert (tmp_path / "state" / "sandbox" / "zoomstate.json").exists()


def test_plan_out_into_a_missing_folder_fails_before_the_refresh(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    before = len(sandbox.requests)
    result = run("plan", "-f", path, "--out", tmp_path / "no-such-folder" / "plan.json")
    assert result.code == 1
    assert len(sandbox.requests) == before  # not even a token
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "no-such-folder" in lines[0] and "does not exist" in lines[0]


# --------------------------------------------------------------------------------------------- JSON


def test_plan_format_json_prints_input_errors_as_json(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync", duration=0)])
    result = run("plan", "-f", path, "--format", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    (error,) = doc["errors"]
    assert error["file"] == str(path) and error["line"] and error["field"].endswith("duration")
    assert "duration" in error["message"]
    assert len(sandbox.requests) == 0


def test_plan_format_json_prints_plan_errors_as_json(tmp_path, run):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    result = run("plan", "-f", path, "--format", "json", "--target", "nope")
    assert result.code == 1
    doc = json.loads(result.out)
    assert "unknown --target nope" in doc["errors"][0]["message"]


def test_apply_format_json_gives_every_outcome_and_the_totals(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync"), meeting("review", "bob@example.com", enable_registration=False)])
    result = run("apply", "-f", path, "--auto-approve", "--format", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    by_key = {c["key"]: c for c in doc["changes"]}
    assert list(by_key) == ["team-sync", "review"]  # in the plan's order
    live = {m["id"] for m in sandbox.meetings()}
    for change in by_key.values():
        assert change["action"] == "create" and change["status"] == "done"
        assert change["meeting_id"] in live and change["join_url"].startswith("http")
        assert set(change) == {"key", "action", "status", "meeting_id", "join_url", "registration_url", "detail",
                               "kept"}
    assert by_key["team-sync"]["registration_url"].startswith("http")
    assert by_key["review"]["registration_url"] is None
    assert doc["totals"] == {"changes": 2, "done": 2, "failed": 0, "deferred": 0}
    assert doc["errors"] == [] and doc["state"].endswith("zoomstate.json")

    again = run("apply", "-f", path, "--auto-approve", "--format", "json")
    assert again.code == 0
    assert json.loads(again.out)["totals"] == {"changes": 0, "done": 0, "failed": 0, "deferred": 0}


def test_apply_format_json_refuses_without_approval_and_changes_nothing(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync")])
    result = run("apply", "-f", path, "--format", "json")
    assert result.code == 1
    assert "--auto-approve" in json.loads(result.out)["errors"][0]["message"]
    assert sandbox.meetings() == []


def test_apply_format_json_reports_the_safety_refusal(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(f"m{i}") for i in range(8)])
    assert run("apply", "-f", path, "--auto-approve", "-q").code == 0
    write_meetings(path, [meeting("m0")])
    result = run("apply", "-f", path, "--auto-approve", "--format", "json")
    assert result.code == 1
    assert "safety threshold" in json.loads(result.out)["errors"][0]["message"]
    assert len(sandbox.meetings()) == 8


# --------------------------------------------------------------------------------------------- show plan


def test_show_renders_a_saved_plan_without_state_or_zoom(tmp_path, run, sandbox):
    path = write_meetings(tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("review")])
    plan_file = tmp_path / "plan.json"
    assert run("plan", "-f", path, "--out", plan_file).code == 0
    path.unlink()  # show needs neither the meetings file ...
    requests_before = len(sandbox.requests)
    text = run("show", plan_file, "--state", tmp_path / "missing" / "state.json")
    assert text.code == 0, text.err
    assert "+ create" in text.out and "team-sync" in text.out and "Plan: 2 to create" in text.out
    as_json = json.loads(run("show", plan_file, "--format", "json").out)
    as_json.pop("refusals")  # what apply would refuse: derived when shown, never read from the file
    assert as_json == json.loads(plan_file.read_text())
    quiet = run("show", plan_file, "-q")
    assert quiet.out.strip().splitlines() == ["Plan: 2 to create, 0 to adopt, 0 to update, 0 to replace, "
                                              "0 to delete, 0 unchanged."]
    assert len(sandbox.requests) == requests_before  # ... nor Zoom
    assert not (tmp_path / "state").exists() and not (tmp_path / "missing").exists()


def test_show_refuses_a_file_that_is_not_a_plan(tmp_path, run):
    bad = tmp_path / "plan.json"
    bad.write_text('{"format": "something else"}')
    result = run("show", bad)
    assert result.code == 1 and "not a zoomstate plan file" in result.err


# --------------------------------------------------------------------------------------------- extras


def test_completion_explains_how_to_install_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "shtab", None)  # import shtab raises ImportError
    assert cli.main(["completion", "bash"], environ={}) == 1
    err = capsys.readouterr().err
    assert "pip install 'zoomstate[completion]'" in err


def test_completion_is_generated_from_the_parser(capsys):
    pytest.importorskip("shtab")
    for shell in ("bash", "zsh"):
        assert cli.main(["completion", shell], environ={}) == 0
        script = capsys.readouterr().out
        for word in ("validate", "force-unlock", "--detailed-exitcode", "--auto-approve", "serve"):
            assert word in script, (shell, word)


def test_pyproject_offers_the_completion_extra():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'completion = ["shtab' in text


def test_schema_prints_the_packaged_schema_path(capsys):
    assert cli.main(["schema"], environ={}) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.is_absolute() and json.loads(path.read_text(encoding="utf-8")) == load_schema()


def _schema_line(text: str) -> str:
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    return first.split("$schema=", 1)[1]


def test_init_writes_a_schema_reference_that_resolves_offline(tmp_path, capsys, clock):
    out = tmp_path / "team" / "meetings.yaml"
    assert cli.main(["init", "--out", str(out)], clock=clock, environ={}) == 0
    reference = _schema_line(out.read_text(encoding="utf-8"))
    assert "://" not in reference
    resolved = out.parent / reference  # an absolute reference stays itself
    assert json.loads(resolved.read_text(encoding="utf-8")) == load_schema()


def test_a_file_written_beside_the_schema_refers_to_it_relatively(tmp_path, capsys, clock, monkeypatch):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"meetings": [meeting("team-sync")]}))
    checkout = schema_path().resolve().parent.parent  # where schemas/meetings.schema.json lies
    monkeypatch.chdir(checkout)
    assert cli.main(["convert", str(seed), "--out", "-"], clock=clock, environ={}) == 0
    reference = _schema_line(capsys.readouterr().out)
    assert reference == f"{schema_path().parent.name}/meetings.schema.json"
    assert (checkout / reference).resolve() == schema_path().resolve()
