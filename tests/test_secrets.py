"""Secrets never leave the process: no client secret, token or start_url in any output, log record or file.

A start_url carries the host's key (``zak``): whoever holds it starts the meeting as the host.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
import yaml

from tests.conftest import HOSTS, assert_requests_follow_contract, meeting, read_csv, write_meetings
from zoomstate.sandbox import Sandbox


@pytest.fixture
def sandbox(clock):
    """The sandbox with an unguessable client secret, so that finding it anywhere means it leaked."""
    with Sandbox(users=HOSTS, clock=clock, client_secret="cs-" + secrets.token_urlsafe(24)) as sb:
        yield sb
        assert_requests_follow_contract(sb)


class Transcript:
    """Everything the runs printed, to search afterwards."""

    def __init__(self, run):
        self._run = run
        self.texts: list[str] = []

    def __call__(self, *args, expect: int = 0, env: dict[str, str] | None = None):
        result = self._run(*args, env=env)
        self.texts += [result.out, result.err]
        assert result.code == expect, f"{args}: {result.out}{result.err}"
        return result


def start_urls(sandbox) -> set[str]:
    urls = {m["start_url"] for m in sandbox.meetings()}
    assert urls and all("/s/" in url and "zak=" in url for url in urls)
    return urls


def needles(sandbox, urls: set[str], *extra: str) -> dict[str, str]:
    """What must never be found -> a label for the failure message."""
    found = {sandbox.client_secret: "client secret"}
    found |= {token: "access token" for token in sandbox.issued_tokens}
    for url in urls:
        found[url] = "start_url"
        found[url.split("/s/", 1)[1]] = "start_url after /s/"
        found[url.split("zak=", 1)[1]] = "zak in start_url"
    found |= {value: "secret" for value in extra}
    return found


def haystacks(folder: Path, transcript: Transcript, caplog, *, written_by_test: set[Path]) -> dict[str, str]:
    stacks = {f"output {i}": text for i, text in enumerate(transcript.texts)}
    for i, record in enumerate(caplog.records):
        stacks[f"log {record.name} {i}"] = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path not in written_by_test:
            stacks[str(path.relative_to(folder))] = path.read_bytes().decode("utf-8", "replace")
    return stacks


def assert_nothing_leaked(stacks: dict[str, str], secrets_: dict[str, str]) -> None:
    leaks = [f"{label} in {where}" for needle, label in secrets_.items()
             for where, text in stacks.items() if needle in text]
    assert not leaks, leaks


def test_no_secret_in_any_output_log_or_file(tmp_path: Path, run, sandbox, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    t = Transcript(run)
    path = write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync"),
        meeting("planning", "bob@example.com", weekly_days="4", password="Plan_42"),
        meeting("review", "carol@example.com", enable_registration=False),
    ])
    f = ("-f", path)
    t("apply", *f, "--auto-approve", "-v")  # creates, printing each meeting's links
    t("apply", *f, "--auto-approve", "-v")  # nothing to do, with host checks and debug logs
    urls = start_urls(sandbox)

    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["meetings"][0]["topic"] = "Team sync (moved)"
    doc["meetings"][0]["start_time"] = "10:30"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    for verbose in ((), ("-v",)):
        t("plan", *f, "--format", "json", *verbose)
        t("plan", *f, "--format", "markdown", *verbose)
        t("plan", *f, *verbose)
    t("plan", *f, "--out", tmp_path / "plan.json")
    t("apply", *f, tmp_path / "plan.json")  # update, from the saved plan
    urls |= start_urls(sandbox)

    del doc["meetings"][2]
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    t("plan", *f, "--out", tmp_path / "plan-delete.json", "-v")
    t("apply", *f, "--auto-approve", "-v")  # delete
    assert len(sandbox.meetings()) == 2
    for verbose in ((), ("-v",)):
        t("show", *f, *verbose)
        t("show", *f, "--format", "json", *verbose)
        t("validate", *f, *verbose)
        t("plan", *f, "--format", "json", *verbose)
        t("plan", *f, "--format", "markdown", *verbose)
    t("apply", *f, "--auto-approve")

    # The search is meaningful: the runs printed links, logged requests and wrote every file.
    joined = "".join(t.texts)
    assert "Join URL:" in joined and "zoom.us/j/" in joined
    assert any(r.name.startswith("zoomstate.zoom") for r in caplog.records)
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"state/zoomstate.json", "state/zoomstate.json.backup", "zoom_meetings.csv", "plan.json"} <= written
    assert len(read_csv(tmp_path / "zoom_meetings.csv")) == 2
    assert len(sandbox.issued_tokens) >= 1

    stacks = haystacks(tmp_path, t, caplog, written_by_test={path})
    assert_nothing_leaked(stacks, needles(sandbox, urls))


def test_credentials_in_the_meetings_file_are_used_but_never_shown(tmp_path: Path, run, sandbox, caplog,
                                                                   zoom_env) -> None:
    # A seed-style config: the credentials live in the file, not in the environment.
    caplog.set_level(logging.DEBUG)
    t = Transcript(run)
    env = {k: v for k, v in zoom_env.items() if k in ("ZOOM_API_URL", "ZOOM_OAUTH_URL")}
    path = write_meetings(
        tmp_path / "meetings.yaml", [meeting("team-sync"), meeting("planning", "bob@example.com")],
        zoom_api={"account_id": sandbox.account_id, "client_id": sandbox.client_id,
                  "client_secret": sandbox.client_secret},
    )
    f = ("-f", path)
    for verbose in ((), ("-v",)):
        t("validate", *f, *verbose, env=env)
        t("plan", *f, "--format", "json", *verbose, env=env)
        t("plan", *f, "--format", "markdown", *verbose, env=env)
    t("plan", *f, "--out", tmp_path / "plan.json", env=env)
    t("apply", *f, tmp_path / "plan.json", "-v", env=env)
    assert len(sandbox.meetings()) == 2
    urls = start_urls(sandbox)
    t("show", *f, "--format", "json", env=env)
    t("apply", *f, "--auto-approve", env=env)
    assert "credentials in the meetings file" in "".join(t.texts)

    # A mistyped field in the block is reported by name, never with its value.
    bad = tmp_path / "bad" / "meetings.yaml"
    bad.parent.mkdir()
    write_meetings(bad, [meeting("team-sync")], zoom_api={"client_secrett": sandbox.client_secret,
                                                          "account_id": 12345})
    result = t("validate", "-f", bad, expect=1, env=env)
    assert "zoom_api.client_secrett" in result.err and "zoom_api.account_id" in result.err

    stacks = haystacks(tmp_path, t, caplog, written_by_test={path, bad})
    assert_nothing_leaked(stacks, needles(sandbox, urls))


def test_formula_cells_are_neutralised_in_the_csv(tmp_path: Path, run, sandbox) -> None:
    topics = {"formula": "=cmd|' /C calc'!A0", "plus": "+1 standup", "minus": "-2 retro", "at": "@everyone sync",
              "plain": "Plain sync"}
    path = write_meetings(tmp_path / "meetings.yaml", [meeting(key, topic=topic) for key, topic in topics.items()])
    result = run("apply", "-f", path, "--auto-approve")
    assert result.code == 0, result.err
    # Zoom holds the topics as written; only the CSV cells are neutralised.
    assert sorted(m["topic"] for m in sandbox.meetings()) == sorted(topics.values())
    rows = {row["key"]: row for row in read_csv(tmp_path / "zoom_meetings.csv")}
    assert rows["formula"]["meeting_topic"] == "'=cmd|' /C calc'!A0"
    assert rows["plus"]["meeting_topic"] == "'+1 standup"
    assert rows["minus"]["meeting_topic"] == "'-2 retro"
    assert rows["at"]["meeting_topic"] == "'@everyone sync"
    assert rows["plain"]["meeting_topic"] == "Plain sync"
    assert all(not value.startswith(("=", "+", "-", "@")) for row in rows.values() for value in row.values())
