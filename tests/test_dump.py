"""Dump: an account's recurring meetings -> meetings.yaml; the next plan adopts them all and changes nothing."""

from __future__ import annotations

import json

import yaml

from tests.conftest import writes


def _made_elsewhere(sandbox):
    weekly = {"topic": "Team Sync", "type": 8, "start_time": "2027-02-01T09:00:00", "timezone": "America/New_York",
              "duration": 45, "agenda": "Weekly; with a comma, too",
              "recurrence": {"type": 2, "repeat_interval": 1, "weekly_days": "2,5", "end_times": 12},
              "settings": {"approval_type": 0, "waiting_room": False, "auto_recording": "cloud"}}
    monthly = {"topic": "All Hands", "type": 8, "start_time": "2027-01-12T16:30:00", "timezone": "Europe/London",
               "duration": 60, "recurrence": {"type": 3, "monthly_week": 2, "monthly_week_day": 3,
                                              "end_date_time": "2027-12-31T23:59:59Z"},
               "settings": {"approval_type": 2}}
    sandbox.create_out_of_band("alice@example.com", weekly)
    sandbox.create_out_of_band("bob@example.com", monthly)
    sandbox.create_out_of_band("bob@example.com", {"topic": "One-off", "type": 2,
                                                   "start_time": "2027-03-01T10:00:00Z", "duration": 30})


def test_dump_then_plan_adopts_everything_and_changes_nothing(tmp_path, run, sandbox):
    _made_elsewhere(sandbox)
    path = tmp_path / "meetings.yaml"
    result = run("dump", "-f", path, "--all-hosts", "-o", path)
    assert result.code == 0, result.err
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    meetings = yaml.safe_load(text)["meetings"]
    assert [m["key"] for m in meetings] == ["alice-team-sync", "bob-all-hands"]  # the one-off is not recurring
    team = meetings[0]
    assert team["weekly_days"] == "2,5" and team["waiting_room"] is False and team["auto_recording"] == "cloud"
    assert "join_before_host" not in team and "password" not in team  # defaults and passcodes left out
    assert meetings[1]["enable_registration"] is False and meetings[1]["monthly_week"] == 2
    assert run("validate", "-f", path).code == 0
    plan = json.loads(run("plan", "-f", path, "--format", "json").out)
    assert plan["summary"]["adopt"] == 2 and plan["summary"]["create"] == 0 and plan["summary"]["delete"] == 0
    assert all(not c["diffs"] for c in plan["changes"]), plan["changes"]
    sandbox.reset_requests()
    assert run("apply", "-f", path, "--auto-approve").code == 0
    assert writes(sandbox) == 0
    assert run("plan", "-f", path, "--detailed-exitcode").code == 0


def test_dump_of_named_hosts_to_stdout(tmp_path, run, sandbox):
    _made_elsewhere(sandbox)
    result = run("dump", "-f", tmp_path / "meetings.yaml", "--host", "bob@example.com", "-o", "-")
    assert result.code == 0
    assert [m["key"] for m in yaml.safe_load(result.out)["meetings"]] == ["bob-all-hands"]
    assert not (tmp_path / "meetings.yaml").exists()
