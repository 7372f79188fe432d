"""The few GitHub REST calls the example workflows make, with the standard library only.

GITHUB_TOKEN (the workflow's token) and GITHUB_API_URL (set by the runner) come from the environment.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from typing import Any

# GitHub refuses a comment or issue body longer than this, counted in UTF-16 code units.
BODY_LIMIT = 65_536


class GitHubError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"GitHub answered {status}: {message}")
        self.status = status


class GitHub:
    def __init__(self, repo: str, token: str | None = None, api_url: str | None = None):
        self.repo = repo
        self.token = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self.token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "zoomstate-workflow",
        })
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("message", detail)
            except (ValueError, AttributeError):
                pass
            raise GitHubError(exc.code, str(detail)) from None

    def paged(self, path: str) -> list[Any]:
        """Every item of a listing, following the Link header's next pages."""
        items: list[Any] = []
        url: str | None = f"{self.api_url}{path}{'&' if '?' in path else '?'}per_page=100"
        while url:
            request = urllib.request.Request(url, headers={
                "Accept": "application/vnd.github+json", "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "zoomstate-workflow"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    items += json.loads(response.read().decode())
                    match = re.search(r'<([^>]+)>;\s*rel="next"', response.headers.get("Link", ""))
                    url = match.group(1) if match else None
            except urllib.error.HTTPError as exc:
                raise GitHubError(exc.code, exc.read().decode(errors="replace")) from None
        return items


def length(text: str) -> int:
    """A body's length as GitHub counts it."""
    return len(text.encode("utf-16-le")) // 2


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run in text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def quote_log(log: str, budget: int) -> str:
    """The end of a log as a fenced block under budget characters, workflow commands left out."""
    lines = [line for line in log.splitlines() if not line.startswith("::")]
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        size += length(line) + 1
        if size > budget - 200:
            kept.append("… (earlier lines cut: see the workflow log)")
            break
        kept.append(line)
    text = "\n".join(reversed(kept))
    fence = fence_for(text)
    return f"{fence}text\n{text}\n{fence}"
