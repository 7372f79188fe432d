"""Command line: parse arguments, call the manager, print, and choose the exit code. Nothing else."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from zoomstate import __version__, render
from zoomstate.clock import Clock
from zoomstate.manager import Manager, Options, Session, SetupError, load_plan_file
from zoomstate.model import InputError
from zoomstate.plan import PlanError
from zoomstate.state import StateError, StateStore

if TYPE_CHECKING:
    from zoomstate.apply import Outcome

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

EXAMPLES = {
    "validate": "examples:\n  zoomstate validate\n  zoomstate validate -f team/meetings.yaml --format github",
    "plan": ("examples:\n  zoomstate plan --sandbox\n  zoomstate plan --out plan.json\n"
             "  zoomstate plan --format markdown > plan.md\n  zoomstate plan --refresh=false --target team-sync"),
    "apply": ("examples:\n  zoomstate apply --sandbox --auto-approve\n  zoomstate apply plan.json\n"
              "  zoomstate apply --auto-approve --parallelism 4"),
    "show": "examples:\n  zoomstate show\n  zoomstate show --sandbox --format json",
    "import": ("examples:\n  zoomstate import team-sync 87654321098\n"
               "  zoomstate import --csv zoom_meetings_output.csv"),
    "convert": "examples:\n  zoomstate convert my-meetings-config.json\n  zoomstate convert seed.json --out -",
    "init": "examples:\n  zoomstate init\n  zoomstate init --out team/meetings.yaml",
}


def _common(parser: argparse.ArgumentParser, *, online: bool) -> None:
    parser.add_argument("-f", "--file", dest="meetings", default="meetings.yaml", type=Path,
                        help="the meetings file (default: meetings.yaml)")
    parser.add_argument("--state", type=Path, default=None,
                        help="the state file (default: state/zoomstate.json beside the meetings file; "
                             "state/sandbox/zoomstate.json with --sandbox)")
    parser.add_argument("-v", "--verbose", action="store_true", help="say more (and verify hosts with Zoom)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary")
    parser.add_argument("--no-color", action="store_true", help="never colour the output (NO_COLOR works too)")
    if online:
        parser.add_argument("--sandbox", action="store_true",
                            help="use the built-in local Zoom (no credentials; its own state/sandbox/ folder)")
        parser.add_argument("--zoom-plan", choices=("free", "pro", "business"), default="pro",
                            help="your Zoom account's plan, for its API rate limits (default: pro)")
        parser.add_argument("--parallelism", type=int, default=8, metavar="N",
                            help="concurrent Zoom requests (default: 8)")
        parser.add_argument("--target", action="append", default=[], metavar="KEY",
                            help="only this meeting key (repeatable)")
        parser.add_argument("--lock-timeout", type=duration, default=0.0, metavar="DURATION",
                            help="wait this long for another run's state lock, e.g. 30s, 2m or seconds "
                                 "(default 0: fail at once)")


def duration(text: str) -> float:
    """A --lock-timeout value: plain seconds, or a number followed by s, m or h."""
    value = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(value[-1:], 0)
    try:
        seconds = float(value[:-1] if scale else value) * (scale or 1)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use seconds, or e.g. 30s, 2m, 1h")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoomstate",
        description="Keep recurring Zoom meetings in meetings.yaml and make Zoom match it.",
        epilog="Start with: zoomstate apply --sandbox --auto-approve (no credentials needed).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zoomstate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES.get(name),
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    p = command("validate", "check meetings.yaml offline: schema and calendar rules, no credentials needed")
    _common(p, online=False)
    p.add_argument("--format", choices=("text", "json", "github"), default="text")

    p = command("plan", "show what apply would change (the dry run)")
    _common(p, online=True)
    p.add_argument("--out", type=Path, help="save the plan to this file, for `zoomstate apply FILE`")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 2 when there are changes, 0 when none, 1 on error")
    p.add_argument("--refresh", choices=("true", "false"), default="true",
                   help="read live meetings from Zoom (default true); false plans from the state file alone")

    p = command("apply", "make Zoom match meetings.yaml, recording every meeting in the state file and the CSV")
    _common(p, online=True)
    p.add_argument("planfile", nargs="?", type=Path, help="a plan saved with `zoomstate plan --out`")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--force", action="store_true", help="apply even past the delete/replace safety threshold")

    p = command("show", "list managed meetings with their links (from the state file)")
    _common(p, online=True)
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = command("import", "bring existing Zoom meetings under management (nothing is created)")
    _common(p, online=True)
    p.add_argument("key", nargs="?", help="the meeting's key in the meetings file")
    p.add_argument("meeting_id", nargs="?", type=int, help="the Zoom meeting id to manage as KEY")
    p.add_argument("--csv", type=Path, metavar="FILE",
                   help="import every meeting listed in the seed script's CSV output (matched by host and topic)")

    p = command("convert", "write the meetings.yaml equivalent to a seed script JSON config")
    p.add_argument("seed_config", type=Path)
    p.add_argument("--out", default="meetings.yaml", help="where to write (default meetings.yaml; - for stdout)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = command("init", "write a commented starter meetings.yaml")
    p.add_argument("--out", default="meetings.yaml", help="where to write (default meetings.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = command("state", "work on the state file")
    state_sub = p.add_subparsers(dest="state_command", metavar="SUBCOMMAND")
    rm = state_sub.add_parser("rm", help="forget a meeting without deleting it in Zoom")
    _common(rm, online=True)
    rm.add_argument("keys", nargs="+", metavar="KEY")
    ls = state_sub.add_parser("list", help="list the keys in the state file")
    _common(ls, online=True)

    p = command("force-unlock", "clear the holder record a run that is gone left (never breaks a held lock)")
    _common(p, online=True)

    p = command("export", "rewrite the CSV from the state file")
    _common(p, online=True)

    p = command("sandbox", "the built-in local Zoom API")
    sandbox_sub = p.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    serve = sandbox_sub.add_parser("serve", help="serve the local Zoom API until Ctrl-C")
    from zoomstate.sandbox import add_serve_arguments

    add_serve_arguments(serve)
    return parser


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None,
         environ: Mapping[str, str] | None = None) -> int:
    """Run one command. ``clock`` and ``environ`` are for tests and embedding; they default to the real ones."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    color = False if getattr(args, "no_color", False) else None
    out = render.make_console(sys.stdout, color=color)
    err = render.make_console(sys.stderr, color=color)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.clock, args.environ = clock, environ
    try:
        return _dispatch(args, out, err)
    except InputError as exc:
        render.diagnostics_text(exc.diagnostics, err)
        if (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true":
            # Plan errors show on the diff lines too; stderr, so that they never land in a redirected plan.md.
            print(render.github_annotations(exc.diagnostics), file=sys.stderr)
        n = len(exc.diagnostics)
        err.print(f"{n} error{'s' if n != 1 else ''}: nothing was changed.")
        return EXIT_ERROR
    except (PlanError, StateError, SetupError, *_zoom_errors()) as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted: the state file holds every change that finished; run the command again.")
        return 130


def _zoom_errors() -> tuple[type[Exception], ...]:
    # The Zoom client is imported only by online commands, so only then can a ZoomError arrive here.
    errors = sys.modules.get("zoomstate.zoom.errors")
    return (errors.ZoomError,) if errors is not None else ()


def _manager(args: argparse.Namespace) -> Manager:
    options = Options(
        meetings_path=args.meetings,
        state_path=args.state,
        sandbox=getattr(args, "sandbox", False),
        zoom_plan=getattr(args, "zoom_plan", "pro"),
        parallelism=max(1, getattr(args, "parallelism", 8)),
        verbose=args.verbose,
        targets=list(getattr(args, "target", []) or []),
        lock_timeout=getattr(args, "lock_timeout", 0.0),
    )
    return Manager(options, environ=args.environ, clock=args.clock)


def _dispatch(args: argparse.Namespace, out, err) -> int:
    command = args.command
    if command == "sandbox":
        from zoomstate.sandbox import run_serve

        if args.sandbox_command != "serve":
            err.print("usage: zoomstate sandbox serve [--port N] [--store FILE]")
            return EXIT_ERROR
        return run_serve(args)
    if command == "convert":
        return cmd_convert(args, out, err)
    if command == "init":
        return cmd_init(args, out, err)
    if command == "validate":
        return cmd_validate(args, out, err)
    if command == "plan":
        return cmd_plan(args, out, err)
    if command == "apply":
        return cmd_apply(args, out, err)
    if command == "show":
        return cmd_show(args, out)
    if command == "import":
        return cmd_import(args, out)
    if command == "state":
        return cmd_state(args, out, err)
    if command == "force-unlock":
        stale = StateStore(_manager(args).state_path).force_unlock()  # refuses while the holder runs
        out.print("nothing to unlock: the state was not locked"
                  + (f" (cleared the record a run that is gone left: {stale})" if stale else ""), markup=False)
        return EXIT_OK
    if command == "export":
        manager = _manager(args)
        with manager.session(online=False, operation="export", lock=True) as session:
            path = manager.export(session)
        out.print(f"wrote {path}")
        return EXIT_OK
    raise AssertionError(command)


def _write_new(path_text: str, text: str, force: bool) -> Path | None:
    if path_text == "-":
        sys.stdout.write(text)
        return None
    path = Path(path_text)
    if path.exists() and not force:
        raise SetupError(f"{path} already exists: choose another --out, or add --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cmd_convert(args, out, err) -> int:
    from zoomstate.convert import convert_seed

    text, notes = convert_seed(args.seed_config)
    path = _write_new(args.out, text, args.force)
    for note in notes:
        err.print(f"note: {note}", markup=False)
    if path is not None:
        err.print(f"wrote {path}: check it with `zoomstate validate -f {path}`", markup=False)
    return EXIT_OK


def cmd_init(args, out, err) -> int:
    from zoomstate.convert import starter

    today = (args.clock.now() if args.clock else datetime.now(UTC)).date()
    path = _write_new(args.out, starter(today), args.force)
    out.print(f"wrote {path}: edit the hosts and meetings, then run `zoomstate plan --sandbox`", markup=False)
    return EXIT_OK


def cmd_validate(args, out, err) -> int:
    manager = _manager(args)
    try:
        desired = manager.validate()
    except InputError as exc:
        if args.format == "github":
            print(render.github_annotations(exc.diagnostics))
            return EXIT_ERROR
        if args.format == "json":
            print(json.dumps({"valid": False, "errors": [d.__dict__ for d in exc.diagnostics]}, indent=2))
            return EXIT_ERROR
        raise
    if args.format == "github":
        text = render.github_annotations(desired.warnings)
        if text:
            print(text)
    elif args.format == "json":
        print(json.dumps({"valid": True, "meetings": len(desired.meetings),
                          "warnings": [d.__dict__ for d in desired.warnings]}, indent=2))
    else:
        render.diagnostics_text(desired.warnings, err)
        warnings = sum(1 for d in desired.warnings if d.severity == "warning")
        notes = len(desired.warnings) - warnings
        out.print(f"{desired.path}: valid, {len(desired.meetings)} meeting(s)"
                  + (f", {warnings} warning(s)" if warnings else "") + (f", {notes} note(s)" if notes else ""))
    return EXIT_OK


def cmd_plan(args, out, err) -> int:
    manager = _manager(args)
    online = args.refresh == "true"
    with manager.session(online=online, operation="plan", lock=False) as session:
        plan = _plan_with_progress(manager, session, err, refresh_live=online)
    if args.out:
        args.out.write_text(plan.dumps(), encoding="utf-8")
    if args.format == "json":
        print(render.plan_json(plan), end="")
    elif args.format == "markdown":
        print(render.plan_markdown(plan), end="")
    elif args.quiet:
        out.print(render.summary_line(plan))
    else:
        render.plan_text(plan, out, show_unchanged=args.verbose)
    if args.out and args.format == "text":
        out.print(f"Saved the plan to {args.out}: apply it with `zoomstate apply {args.out}`.")
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args, out, err) -> int:
    manager = _manager(args)
    saved = load_plan_file(args.planfile) if args.planfile else None
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = _plan_with_progress(manager, session, err, saved=saved)  # a saved plan: checked, planned again
        if not args.quiet:
            render.plan_text(plan, out, show_unchanged=args.verbose)
        plan = manager.checked(session, plan, force=args.force)  # errors and safety refuse before the prompt
        if not plan.has_changes:
            path = manager.export(session)
            out.print(f"Nothing to do. The CSV is up to date: {path}")
            return EXIT_OK
        if saved is None and not args.auto_approve and not _confirm(out, err):
            return EXIT_ERROR
        total = len(plan.pending_changes)
        counter = {"n": 0}
        lock = threading.Lock()
        progress = render.ProgressLine(err, "applying") if args.quiet else None

        def report(outcome: Outcome) -> None:
            with lock:
                counter["n"] += 1
                if not args.quiet or outcome.status != "done":
                    if progress:
                        progress.close()
                    render.outcome_text(outcome, out, counter["n"], total)
                if progress:
                    progress.update(counter["n"], total)

        try:
            result = manager.apply(session, plan, force=args.force, on_outcome=report)
        finally:
            if progress:
                progress.close()
        render.result_text(result, out)
        out.print(f"State: {session.store.path}   CSV: {session.csv_path}")
        deferred = result.by_status("deferred")
        if deferred:
            err.print(f"{len(deferred)} change(s) deferred by Zoom's daily limit: run apply again after 00:00 UTC; "
                      "nothing will be created twice.")
        return EXIT_OK if result.ok else EXIT_ERROR


def _plan_with_progress(manager: Manager, session: Session, err, *, refresh_live: bool = True, saved=None):
    progress = render.ProgressLine(err, "refreshing from Zoom")
    try:
        if saved is not None:
            return manager.recheck(session, saved, progress=progress.update)
        return manager.make_plan(session, refresh_live=refresh_live, progress=progress.update)
    finally:
        progress.close()


def _confirm(out, err) -> bool:
    if not sys.stdin.isatty():
        err.print("error: apply needs confirmation: run it in a terminal, or pass --auto-approve "
                  "(for CI), or apply a saved plan file. Nothing was changed.")
        return False
    out.print("Do you want to apply these changes? Only 'yes' will be accepted.")
    try:
        answer = input("  Enter a value: ").strip()
    except EOFError:
        answer = ""
    if answer != "yes":
        err.print("Apply cancelled. Nothing was changed.")
        return False
    return True


def cmd_show(args, out) -> int:
    manager = _manager(args)
    with manager.session(online=False, operation="show", lock=False) as session:
        state = session.state
    rows = [{"key": k, "meeting_id": m.meeting_id, "host_email": m.host_email, "topic": m.topic,
             "join_url": m.outputs.get("join_url", ""), "registration_url": m.outputs.get("registration_url", ""),
             "next": m.outputs.get("start_time", ""), "timezone": m.outputs.get("timezone", "")}
            for k, m in sorted(state.meetings.items())]
    if args.format == "json":
        print(json.dumps({"state": str(session.store.path), "meetings": rows}, indent=2))
        return EXIT_OK
    if not rows:
        out.print(f"No managed meetings in {session.store.path}.")
        return EXIT_OK
    for row in rows:
        out.print(f"{row['key']}  {row['meeting_id']}  {row['host_email']}  \"{row['topic']}\"", markup=False)
        out.print(f"    next: {row['next']} {row['timezone']}", markup=False)
        out.print(f"    join: {row['join_url']}", markup=False)
        if row["registration_url"]:
            out.print(f"    registration: {row['registration_url']}", markup=False)
    out.print(f"{len(rows)} managed meeting(s) in {session.store.path}")
    return EXIT_OK


def cmd_import(args, out) -> int:
    from zoomstate import importer

    manager = _manager(args)
    if args.csv is not None:
        rows = importer.read_seed_csv(args.csv)
        with manager.session(online=True, operation="import", lock=True) as session:
            assert session.client is not None
            imported, skipped = importer.import_seed_rows(
                session.desired, session.state, session.store, session.client, rows, str(args.csv),
                manager.clock.now(), account_id=session.account_id)
            manager.export(session)
        for key, meeting_id in imported:
            out.print(f"Imported meeting {meeting_id} as {key}.", markup=False)
        for note in skipped:
            out.print(f"skipped {note}", markup=False)
        out.print(f"{len(imported)} meeting(s) imported, {len(skipped)} skipped. Run `zoomstate plan` next.")
        return EXIT_OK if not skipped else EXIT_ERROR
    if args.key is None or args.meeting_id is None:
        raise SetupError("import needs KEY and MEETING_ID, or --csv FILE")
    with manager.session(online=True, operation="import", lock=True) as session:
        assert session.client is not None
        importer.import_meeting(session.desired, session.state, session.store, session.client, args.key,
                                args.meeting_id, manager.clock.now(), account_id=session.account_id)
        manager.export(session)
    out.print(f"Imported meeting {args.meeting_id} as {args.key}. Run `zoomstate plan` to see any differences.")
    return EXIT_OK


def cmd_state(args, out, err) -> int:
    if args.state_command not in ("rm", "list"):
        err.print("usage: zoomstate state rm KEY... | zoomstate state list")
        return EXIT_ERROR
    manager = _manager(args)
    store = StateStore(manager.state_path)
    if args.state_command == "list":
        state = store.load()
        for key in sorted(state.meetings):
            print(key)
        return EXIT_OK
    with store.lock("state rm", timeout=args.lock_timeout, clock=manager.clock):
        state = store.load()
        missing = [k for k in args.keys if k not in state.meetings]
        if missing:
            raise PlanError(f"not in the state file: {', '.join(missing)} (see `zoomstate state list`)")
        for key in args.keys:
            meeting = state.meetings.pop(key)
            out.print(f"Forgot {key} (meeting {meeting.meeting_id} is left as it is in Zoom).")
        store.save(state)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
