"""Shared fixtures: a fake clock, an in-process sandbox Zoom, meetings files, and a CLI runner."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from zoomstate.clock import FakeClock

# Every test lives on 2027-01-04 (a Monday), so dates in meeting files stay in the future forever.
TEST_NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
HOSTS = ["alice@example.com", "bob@example.com", "carol@example.com"]


def meeting(key: str, host: str = "alice@example.com", **fields) -> dict:
    """A valid weekly meeting; override any field."""
    base = {
        "key": key,
        "host_email": host,
        "topic": key.replace("-", " ").title(),
        "start_date": "2027-02-01",
        "start_time": "09:00",
        "timezone": "America/New_York",
        "duration": 45,
        "recurrence_type": "weekly",
        "weekly_days": "2",
        "occurrences": 10,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def write_meetings(path: Path, meetings: list[dict], **top) -> Path:
    doc = {**top, "meetings": meetings}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(TEST_NOW)


CONTRACT_OPERATIONS = {"POST /users/{userId}/meetings": "meetingCreate", "PATCH /meetings/{meetingId}": "meetingUpdate"}


def assert_requests_follow_contract(sandbox) -> int:
    """Every create/update body zoomstate sent validates against Zoom's published request schema."""
    from tests import contract

    checked = 0
    if not contract.spec_available() and not contract._ci():
        return checked
    for record in sandbox.requests:
        operation = CONTRACT_OPERATIONS.get(record.route)
        if operation and record.body is not None:
            contract.validate_request(operation, record.body)
            checked += 1
    return checked


@pytest.fixture
def sandbox(clock):
    """The sandbox Zoom for one test; on teardown, every request body it received is checked against the spec."""
    from zoomstate.sandbox import Sandbox

    with Sandbox(users=HOSTS, clock=clock) as sb:
        yield sb
        assert_requests_follow_contract(sb)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def sandbox_env(sb) -> dict[str, str]:
    """The environment that points zoomstate at a sandbox Zoom."""
    return {
        "ZOOM_API_URL": sb.api_url,
        "ZOOM_OAUTH_URL": sb.oauth_url,
        "ZOOM_ACCOUNT_ID": sb.account_id,
        "ZOOM_CLIENT_ID": sb.client_id,
        "ZOOM_CLIENT_SECRET": sb.client_secret,
    }


@pytest.fixture
def zoom_env(sandbox) -> dict[str, str]:
    return sandbox_env(sandbox)


@pytest.fixture
def run(capsys, clock, zoom_env):
    """Run the CLI in-process against the sandbox: run("plan", "-f", path) -> Run."""

    from zoomstate import cli

    def _run(*args: str, env: dict[str, str] | None = None) -> Run:
        capsys.readouterr()
        code = cli.main([str(a) for a in args], clock=clock, environ=env if env is not None else zoom_env)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return _run


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def writes(sandbox) -> int:
    """Requests that change Zoom."""
    return sum(1 for r in sandbox.requests if r.route.split()[0] in ("POST", "PATCH", "DELETE")
               and "oauth" not in r.route)
