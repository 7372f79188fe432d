"""Calendar feeds and events pages from the state: what a calendar library expands equals what Zoom holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from tests.conftest import meeting, write_meetings
from zoomstate import publish
from zoomstate.state import StateStore

icalendar = pytest.importorskip("icalendar")
recurring_ical_events = pytest.importorskip("recurring_ical_events")


def _state(tmp_path):
    return StateStore(tmp_path / "state" / "zoomstate.json").load()


def _mixed(tmp_path):
    """Weekly across the US DST change, monthly 2nd Tuesday across Europe's, monthly by day, with agendas that
    need escaping and folding."""
    return write_meetings(tmp_path / "meetings.yaml", [
        meeting("team-sync", agenda="Standup; blockers, and\nnext steps — déjà vu " * 3, weekly_days="2,5",
                start_date="2027-02-01", occurrences=16),
        meeting("all-hands", "bob@example.com", recurrence_type="monthly", weekly_days=None, monthly_week=2,
                monthly_week_day=3, start_date="2027-01-12", start_time="16:30", timezone="Europe/London",
                occurrences=6, duration=60),
        meeting("billing", "carol@example.com", recurrence_type="monthly", weekly_days=None, monthly_day=15,
                start_date="2027-01-15", timezone="Asia/Kolkata", occurrences=4, enable_registration=False),
    ])


def _move_occurrence(sandbox, meeting_id: int, index: int, by: timedelta, duration: int) -> None:
    """What an occurrence PATCH does in Zoom (the sandbox has none): one occurrence starts elsewhere and lasts
    another time; its occurrence_id stays."""
    store = sandbox.store
    with store.lock:
        item = store.record(meeting_id).meeting["occurrences"][index]
        start = datetime.fromisoformat(item["start_time"].replace("Z", "+00:00")) + by
        item["start_time"], item["duration"] = start.strftime("%Y-%m-%dT%H:%M:%SZ"), duration
        store.save()


def _zoom_occurrences(sandbox, meeting_id: int) -> set[tuple[datetime, int]]:
    body = sandbox.meeting(meeting_id)
    return {(datetime.fromisoformat(o["start_time"].replace("Z", "+00:00")), o["duration"])
            for o in body["occurrences"] if o.get("status") != "deleted"}


def _expanded(text: str) -> dict[int, set[tuple[datetime, int]]]:
    cal = icalendar.Calendar.from_ical(text)
    found: dict[int, set[tuple[datetime, int]]] = {}
    for event in recurring_ical_events.of(cal).between(datetime(2026, 1, 1, tzinfo=UTC),
                                                        datetime(2030, 1, 1, tzinfo=UTC)):
        start = event["DTSTART"].dt.astimezone(UTC)
        minutes = int((event["DTEND"].dt - event["DTSTART"].dt).total_seconds() // 60) if "DTEND" in event \
            else int(event["DURATION"].dt.total_seconds() // 60)
        meeting_id = int(str(event["UID"]).split("@")[0])
        found.setdefault(meeting_id, set()).add((start, minutes))
    return found


def test_ics_feed_expands_to_the_occurrences_zoom_holds(tmp_path, run, sandbox):
    path = _mixed(tmp_path)
    assert run("apply", "-f", path, "--auto-approve").code == 0
    ids = {k: m.meeting_id for k, m in _state(tmp_path).meetings.items()}
    # A cancelled occurrence (Zoom's occurrence DELETE) and a moved, longer one.
    team = sandbox.meeting(ids["team-sync"])
    sandbox.store.delete(ids["team-sync"], team["occurrences"][3]["occurrence_id"])
    _move_occurrence(sandbox, ids["all-hands"], 2, timedelta(hours=1, minutes=30), 90)
    result = run("refresh", "-f", path)
    assert result.code == 0, result.err
    feed = tmp_path / "feed.ics"
    result = run("export", "-f", path, "--format", "ics", "-o", feed, "--split", tmp_path / "feeds")
    assert result.code == 0, result.err
    data = feed.read_bytes()
    text = data.decode("utf-8")
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded at 75 octets
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert "EXDATE;TZID=America/New_York:" in text and "RECURRENCE-ID;TZID=Europe/London:" in text
    assert "BYDAY=2TU" in text and "BYMONTHDAY=15" in text and "BYDAY=MO,TH" in text
    assert "BEGIN:VTIMEZONE" in text and "TZID:Europe/London" in text
    unfolded = text.replace("\r\n ", "")
    for meeting_id in ids.values():  # the passcode only where the join URL carries it
        body = sandbox.meeting(meeting_id)
        unfolded = unfolded.replace(body["join_url"], "")
        assert body["password"] not in unfolded
    assert "start_url" not in unfolded and "/s/" not in unfolded
    expanded = _expanded(text)
    for key, meeting_id in ids.items():
        assert expanded[meeting_id] == _zoom_occurrences(sandbox, meeting_id), key
    assert len(expanded[ids["team-sync"]]) == 15  # 16 less the cancelled one
    # moved: 16:30 -> 18:00 GMT, 90 minutes
    assert (datetime(2027, 3, 9, 18, 0, tzinfo=UTC), 90) in expanded[ids["all-hands"]]
    # A DST change inside the series: 09:00 New York is 14:00 UTC before 14 March, 13:00 after.
    starts = sorted(s for s, _ in expanded[ids["team-sync"]])
    assert starts[0].hour == 14 and starts[-1].hour == 13
    event = next(e for e in icalendar.Calendar.from_ical(text).walk("VEVENT")
                 if str(e["UID"]) == f"{ids['team-sync']}@zoomstate")
    assert "Register: https://" in str(event["DESCRIPTION"]) and "Standup; blockers" in str(event["DESCRIPTION"])
    assert str(event["URL"]).startswith("https://")
    split = _expanded((tmp_path / "feeds" / "billing.ics").read_text(encoding="utf-8"))
    assert split == {ids["billing"]: _zoom_occurrences(sandbox, ids["billing"])}


def test_escaping_and_folding():
    assert publish.escape_text("a;b,c\\d\ne") == "a\\;b\\,c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 80
    folded = publish.fold(line)
    parts = folded.split("\r\n ")
    assert all(len(p.encode("utf-8")) <= 75 for p in parts) and "".join(parts) == line


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.headings, self.lang, self._in = [], [], [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "a":
            self.links.append(attrs["href"])
        if tag in ("h1", "h2"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.headings.append((self._in, data))


def test_html_page_lists_upcoming_occurrences_with_links(tmp_path, run, sandbox):
    path = _mixed(tmp_path)
    write_meetings(path, [meeting("team-sync", topic="Sync <script>alert(1)</script> & co")])
    assert run("apply", "-f", path, "--auto-approve").code == 0
    result = run("export", "-f", path, "--format", "html", "-o", tmp_path / "site")
    assert result.code == 0, result.err
    text = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert page.lang == "en" and "script" not in page.tags
    assert ("h2", "Sync <script>alert(1)</script> & co") in page.headings  # escaped, read back as text
    body = sandbox.meeting(_state(tmp_path).meetings["team-sync"].meeting_id)
    assert body["join_url"] in page.links and body["registration_url"] in page.links
    assert 'name="viewport"' in text and "<th scope=\"col\">When</th>" in text
    assert text.count("<tr><td>") == 10  # the next ten of its occurrences
    markdown = run("export", "-f", path, "--format", "markdown")
    assert markdown.code == 0
    assert "## Sync \\<script\\>alert\\(1\\)\\</script\\> & co" in markdown.out
    assert f"[Join]({body['join_url']})" in markdown.out
