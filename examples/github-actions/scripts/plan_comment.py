"""Post the plan on the pull request: one comment per part, found again by its hidden marker and edited in place.

usage: plan_comment.py --repo OWNER/REPO --pr N --sha SHA --plan plan.md [--log plan.log] [--exit-code N]
                       [--note TEXT] [--run-url URL] [--author LOGIN]

The plan file is `zoomstate plan --format markdown` output: parts that each start with a marker line
(<!-- zoomstate-plan -->, <!-- zoomstate-plan part 2 -->, ...). When the plan failed before it could be
rendered, one comment carries the errors from the log instead. Parts left over from a longer earlier plan
are deleted. Comments by anyone but --author (default github-actions[bot]) are never touched. A token that
may not comment (pull requests from forks get a read-only one) is a warning, not a failure: the plan is in
the job summary.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from github_api import BODY_LIMIT, GitHub, GitHubError, length, quote_log

MARKER = re.compile(r"^<!-- zoomstate-plan(?: part (\d+))? -->$", re.MULTILINE)


def parts_of(plan: str) -> list[str]:
    """The plan's parts, each from its marker line up to the next marker."""
    starts = [m.start() for m in MARKER.finditer(plan)]
    if not starts:
        return []
    return [plan[a:b].rstrip("\n") + "\n" for a, b in zip(starts, starts[1:] + [len(plan)], strict=True)]


def part_number(body: str) -> int | None:
    match = MARKER.match(body)
    if match is None:
        return None
    return int(match.group(1) or 1)


def failure_comment(log: str, exit_code: str) -> str:
    head = ("<!-- zoomstate-plan -->\n### zoomstate plan\n\n> [!CAUTION]\n"
            f"> **The plan failed** (exit code {exit_code}): nothing can be applied until this is fixed.\n\n")
    return head + quote_log(log or "(no output)", BODY_LIMIT - 2_000 - length(head)) + "\n"


def with_context(part: str, sha: str, note: str, run_url: str) -> str:
    """The part with the commit it plans (and the run, and any note) under its marker and title lines."""
    marker, _, rest = part.partition("\n")
    title = ""
    if rest.startswith("#"):
        title, _, rest = rest.partition("\n")
    context = f"Planned at commit `{sha[:12]}`" if sha else "Planned"
    if run_url:
        context += f" ([workflow run]({run_url}))"
    lines = [marker, *([title, ""] if title else []), context + ".", ""]
    if note:
        lines += ["> [!NOTE]", f"> {note}", ""]
    return "\n".join(lines) + "\n" + rest.lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--pr", required=True, type=int)
    parser.add_argument("--sha", default="")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--exit-code", default="")
    parser.add_argument("--note", default="")
    parser.add_argument("--run-url", default="")
    parser.add_argument("--author", default="github-actions[bot]")
    args = parser.parse_args(argv)

    plan = args.plan.read_text(encoding="utf-8") if args.plan.is_file() else ""
    parts = parts_of(plan)
    if not parts:
        log = args.log.read_text(encoding="utf-8", errors="replace") if args.log and args.log.is_file() else ""
        parts = [failure_comment(log, args.exit_code or "unknown")]
    bodies = [with_context(p, args.sha, args.note, args.run_url) for p in parts]
    for number, body in enumerate(bodies, start=1):
        if length(body) > BODY_LIMIT:
            print(f"::error::part {number} of the plan is {length(body)} characters, over GitHub's {BODY_LIMIT}",
                  file=sys.stderr)
            return 1

    github = GitHub(args.repo)
    try:
        comments = github.paged(f"/repos/{args.repo}/issues/{args.pr}/comments")
        ours: dict[int, list[dict]] = {}
        for comment in comments:
            number = part_number(comment.get("body") or "")
            if number is not None and (comment.get("user") or {}).get("login") == args.author:
                ours.setdefault(number, []).append(comment)
        for number, body in enumerate(bodies, start=1):
            existing = ours.pop(number, [])
            if existing:
                first, duplicates = existing[0], existing[1:]
                if first.get("body") != body:
                    github.request("PATCH", f"/repos/{args.repo}/issues/comments/{first['id']}", {"body": body})
                    print(f"plan comment part {number}: edited {first.get('html_url', first['id'])}")
                else:
                    print(f"plan comment part {number}: unchanged")
                for duplicate in duplicates:
                    github.request("DELETE", f"/repos/{args.repo}/issues/comments/{duplicate['id']}")
            else:
                made = github.request("POST", f"/repos/{args.repo}/issues/{args.pr}/comments", {"body": body})
                print(f"plan comment part {number}: posted {(made or {}).get('html_url', '')}")
        for number, stale in sorted(ours.items()):
            for comment in stale:
                github.request("DELETE", f"/repos/{args.repo}/issues/comments/{comment['id']}")
                print(f"plan comment part {number}: deleted (the plan has fewer parts now)")
    except GitHubError as exc:
        if exc.status in (403, 404):
            print(f"::warning::could not comment on the pull request ({exc}); a pull request from a fork gets a "
                  "read-only token. The plan is in the job summary.", file=sys.stderr)
            return 0
        print(f"::error::{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
