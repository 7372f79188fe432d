"""Coming from the seed script: convert its JSON config, start a file with init."""

from __future__ import annotations

import json

from tests.conftest import TEST_NOW
from zoomstate import cli
from zoomstate.desired import load_desired

SEED_EXAMPLE_2 = {
    "zoom_api": {"account_id": "abc123xyz", "client_id": "client_id_here", "client_secret": "client_secret_here"},
    "meetings": [
        {"host_email": "sales@company.com", "topic": "Sales Pipeline Review", "start_date": "2027-03-04",
         "start_time": "10:00:00", "duration": 60, "timezone": "America/Los_Angeles", "recurrence_type": "weekly",
         "weekly_days": "3", "end_date": "2027-12-31", "enable_registration": False},
        {"host_email": "engineering@company.com", "topic": "Engineering Sprint Planning", "start_date": "2027-03-04",
         "start_time": "14:00:00", "duration": 120, "timezone": "America/New_York", "recurrence_type": "weekly",
         "weekly_days": "3", "repeat_interval": 2, "end_date": "2027-12-31", "enable_registration": True},
    ],
}


def test_convert_seed_config_gives_equivalent_meetings_with_keys(tmp_path, capsys, clock):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(SEED_EXAMPLE_2, indent=2))
    out = tmp_path / "meetings.yaml"
    assert cli.main(["convert", str(seed), "--out", str(out)], clock=clock, environ={}) == 0
    captured = capsys.readouterr()
    text = out.read_text()
    for secret in ("abc123xyz", "client_id_here", "client_secret_here"):
        assert secret not in text and secret not in captured.out + captured.err
    assert "ZOOM_CLIENT_SECRET" in captured.err
    assert "$schema" in text.splitlines()[0]
    converted = load_desired(out, environ={}, now=TEST_NOW)
    original = load_desired(seed, environ={}, now=TEST_NOW)
    assert list(converted.meetings) == ["sales-sales-pipeline-review", "engineering-engineering-sprint-planning"]
    assert list(converted.meetings.values()) == list(original.meetings.values())
    assert not converted.credentials
    # refuses to overwrite
    assert cli.main(["convert", str(seed), "--out", str(out)], clock=clock, environ={}) == 1
    assert "already exists" in capsys.readouterr().err


def test_init_writes_a_valid_starter(tmp_path, capsys, clock):
    out = tmp_path / "meetings.yaml"
    assert cli.main(["init", "--out", str(out)], clock=clock, environ={}) == 0
    desired = load_desired(out, environ={}, now=TEST_NOW)
    assert set(desired.meetings) == {"team-sync", "monthly-review"}
    assert not [w for w in desired.warnings if "past" in w.message]
