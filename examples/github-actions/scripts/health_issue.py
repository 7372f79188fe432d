"""Keep one issue open while the scheduled health check fails, and close it when the check passes again.

usage: health_issue.py --repo OWNER/REPO --exit-code N [--report plan.md] [--log check.log] [--run-url URL]
                       [--title TEXT] [--label NAME]

Exit code 0 closes the open issue (with a comment); 2 (attention: the plan has changes) or anything else
(the check failed) opens the issue, or edits the open one in place with the latest result. The issue is
found by its label and the hidden marker at the start of its body, never by its title.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from github_api import BODY_LIMIT, GitHub, GitHubError, length, quote_log

MARKER = "<!-- zoomstate-health -->"


def report_body(exit_code: str, report: str, log: str, run_url: str) -> str:
    if exit_code == "2":
        verdict = ("> [!WARNING]\n> **Zoom does not match meetings.yaml** (the plan has changes: drift made in "
                   "Zoom, changes deferred by Zoom's daily limit, or a merge that was never applied). Run the apply "
                   "workflow, or fix meetings.yaml.")
    else:
        verdict = (f"> [!CAUTION]\n> **The health check failed** (exit code {exit_code}): see the errors below "
                   "and the workflow log.")
    run = f" ([workflow run]({run_url}))" if run_url else ""
    head = f"{MARKER}\nThe scheduled zoomstate health check needs attention{run}.\n\n{verdict}\n\n"
    budget = BODY_LIMIT - 1_000 - length(head)
    if report.strip() and length(report) <= budget:
        return head + report
    return head + quote_log(log or report or "(no output)", budget) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--exit-code", required=True)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--run-url", default="")
    parser.add_argument("--title", default="zoomstate health check needs attention")
    parser.add_argument("--label", default="zoomstate-health")
    args = parser.parse_args(argv)

    def read(path: Path | None) -> str:
        return path.read_text(encoding="utf-8", errors="replace") if path and path.is_file() else ""

    github = GitHub(args.repo)
    try:
        issues = github.paged(f"/repos/{args.repo}/issues?state=open&labels={args.label}")
        open_issues = [i for i in issues if "pull_request" not in i and (i.get("body") or "").startswith(MARKER)]
        if args.exit_code == "0":
            for issue in open_issues:
                run = f" ({args.run_url})" if args.run_url else ""
                github.request("POST", f"/repos/{args.repo}/issues/{issue['number']}/comments",
                               {"body": f"The health check passes again{run}: closing."})
                github.request("PATCH", f"/repos/{args.repo}/issues/{issue['number']}",
                               {"state": "closed", "state_reason": "completed"})
                print(f"closed issue #{issue['number']}")
            return 0
        body = report_body(args.exit_code, read(args.report), read(args.log), args.run_url)
        if open_issues:
            keep, *extra = sorted(open_issues, key=lambda i: i["number"])
            github.request("PATCH", f"/repos/{args.repo}/issues/{keep['number']}", {"body": body})
            print(f"updated issue #{keep['number']}")
            for issue in extra:  # two runs raced: one issue is enough
                github.request("PATCH", f"/repos/{args.repo}/issues/{issue['number']}",
                               {"state": "closed", "state_reason": "not_planned"})
        else:
            made = github.request("POST", f"/repos/{args.repo}/issues",
                                  {"title": args.title, "body": body, "labels": [args.label]})
            print(f"opened issue #{made['number']}")
    except GitHubError as exc:
        print(f"::error::{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
