"""Command line: parse arguments, call the manager, print, and choose the exit code. Nothing else.

Only the standard library's argparse is loaded before the arguments are parsed: `--version` and `--help`
answer in the time Python starts, and each command imports just the stages it runs (rich only to render).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Container, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoomstate import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from zoomstate.apply import Outcome
    from zoomstate.clock import Clock
    from zoomstate.manager import Manager, Session
    from zoomstate.plan import Plan

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

EXAMPLES = {
    "validate": "examples:\n  zoomstate validate\n  zoomstate validate -f team/meetings.yaml --format github",
    "plan": ("examples:\n  zoomstate plan --sandbox\n  zoomstate plan --out plan.json\n"
             "  zoomstate plan --format markdown > plan.md\n  zoomstate plan --refresh=false --target team-sync"),
    "apply": ("examples:\n  zoomstate apply --sandbox --auto-approve\n  zoomstate apply plan.json\n"
              "  zoomstate apply --auto-approve --parallelism 4\n  zoomstate apply --auto-approve --format json"),
    "show": "examples:\n  zoomstate show\n  zoomstate show --sandbox --format json\n  zoomstate show plan.json",
    "import": ("examples:\n  zoomstate import team-sync 87654321098\n"
               "  zoomstate import --csv zoom_meetings_output.csv"),
    "convert": "examples:\n  zoomstate convert my-meetings-config.json\n  zoomstate convert seed.json --out -",
    "init": "examples:\n  zoomstate init\n  zoomstate init --out team/meetings.yaml",
    "completion": ("examples (needs the optional extra: pip install 'zoomstate[completion]'):\n"
                   "  zoomstate completion bash > ~/.local/share/bash-completion/completions/zoomstate\n"
                   "  zoomstate completion zsh > \"${fpath[1]}/_zoomstate\""),
    "schema": "examples:\n  zoomstate schema\n  code --install-extension redhat.vscode-yaml  # reads the $schema line",
}
ENVIRONMENT = """\
environment:
  ZOOMSTATE_FILE     the meetings file when -f is not given (default meetings.yaml)
  ZOOMSTATE_STATE    the state file when --state is not given (not with --sandbox)
  ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET
                     the credentials of your Server-to-Server OAuth app
  ZOOM_API_URL       Zoom's API (default https://api.zoom.us/v2)
  ZOOM_OAUTH_URL     Zoom's token endpoint (default https://zoom.us/oauth/token)
  NO_COLOR           never colour the output"""
ONLINE_ENVIRONMENT = ENVIRONMENT.split("\n", 1)[1]
# Shell-completion hints in the form shtab reads from an action's `complete` attribute (no import needed).
COMPLETE_FILE = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


class ArgumentParser(argparse.ArgumentParser):
    """argparse with zoomstate's exit codes: a usage error exits 1 (2 means "changes present")."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def _file_args(parser: argparse.ArgumentParser, *, state: bool = True) -> None:
    parser.add_argument("-f", "--file", dest="meetings", default=None, type=Path, metavar="FILE",
                        help="the meetings file (default: $ZOOMSTATE_FILE, else meetings.yaml)"
                        ).complete = COMPLETE_FILE  # type: ignore[attr-defined]
    if state:
        parser.add_argument("--state", type=Path, default=None, metavar="FILE",
                            help="the state file (default: $ZOOMSTATE_STATE, else state/zoomstate.json beside "
                                 "the meetings file; state/sandbox/zoomstate.json with --sandbox)"
                            ).complete = COMPLETE_FILE  # type: ignore[attr-defined]


def _output_args(parser: argparse.ArgumentParser, *, verbose: str | None = None, quiet: bool = False) -> None:
    if verbose:
        parser.add_argument("-v", "--verbose", action="store_true", help=verbose)
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary")
    parser.add_argument("--no-color", action="store_true", help="never colour the output (NO_COLOR works too)")


def _sandbox_arg(parser: argparse.ArgumentParser, *, online: bool) -> None:
    parser.add_argument("--sandbox", action="store_true",
                        help="use the built-in local Zoom (no credentials; its own state/sandbox/ folder)" if online
                        else "the built-in local Zoom's state (state/sandbox/)")


def _online_args(parser: argparse.ArgumentParser, *, refresh: bool) -> None:
    _sandbox_arg(parser, online=True)
    parser.add_argument("--zoom-plan", choices=("free", "pro", "business"), default="pro",
                        help="your Zoom account's plan, for its API rate limits (default: pro)")
    if refresh:
        parser.add_argument("--parallelism", type=int, default=8, metavar="N",
                            help="concurrent Zoom requests (default: 8)")
        parser.add_argument("--target", action="append", default=[], metavar="KEY",
                            help="only this meeting key (repeatable)")


def _duplicates_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--delete-duplicates", action="store_true",
                        help=f"{what}: unmanaged meetings with a managed meeting's host, topic and schedule "
                             "(a second run of the seed script)")


def _lock_args(parser: argparse.ArgumentParser) -> None:
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


def build_parser(commands: Container[str] | None = None) -> argparse.ArgumentParser:
    """The command line; ``commands``: only these commands get their arguments (default: every one).

    main() passes the words of its command line: --help still lists every command, but argparse takes half the
    time when only the one named gets its arguments; and `sandbox serve`'s options live with the sandbox
    server, which is imported only when they are wanted."""
    parser = ArgumentParser(
        prog="zoomstate",
        description="Keep recurring Zoom meetings in meetings.yaml and make Zoom match it.",
        epilog="Start with: zoomstate apply --sandbox --auto-approve (no credentials needed).\n\n" + ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zoomstate {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str, *, online: bool = False) -> argparse.ArgumentParser | None:
        """The command's parser, to add its arguments to; None when they are not wanted."""
        epilog = EXAMPLES.get(name)
        if online:
            epilog = (epilog + "\n\n" if epilog else "") + "environment:\n" + ONLINE_ENVIRONMENT
        made = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        return made if commands is None or name in commands else None

    if p := command("validate", "check meetings.yaml offline: schema and calendar rules, no credentials needed"):
        _file_args(p, state=False)
        _output_args(p, verbose="list every note (each meeting that crosses a DST change)")
        p.add_argument("--format", choices=("text", "json", "github"), default="text")

    if p := command("plan", "show what apply would change (the dry run)", online=True):
        _file_args(p)
        _output_args(p, verbose="list unchanged meetings and every note, and verify hosts with Zoom", quiet=True)
        _online_args(p, refresh=True)
        p.add_argument("--out", type=Path, metavar="FILE", help="save the plan to this file, for `zoomstate apply FILE`"
                       ).complete = COMPLETE_FILE  # type: ignore[attr-defined]
        p.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                       help="text (default); json: the plan, or {\"errors\": [...]} on error; markdown: a PR comment")
        p.add_argument("--detailed-exitcode", action="store_true",
                       help="exit 2 when there are changes, 0 when none, 1 on error")
        p.add_argument("--refresh", choices=("true", "false", "shallow"), default="true",
                       help="read live meetings from Zoom (default true); false plans from the state file alone; "
                       "shallow reads only each host's meeting list (topic, duration, timezone, next start, agenda "
                       "head): a cheap check that cannot see settings, recurrence, passcode or single occurrences")
        _duplicates_arg(p, "plan the listed duplicates as deletes")

    if p := command("apply", "make Zoom match meetings.yaml, recording every meeting in the state file and the CSV",
                    online=True):
        _file_args(p)
        _output_args(p, verbose="list every change and each meeting's links, and verify hosts with Zoom", quiet=True)
        _online_args(p, refresh=True)
        _lock_args(p)
        p.add_argument("planfile", nargs="?", type=Path, help="a plan saved with `zoomstate plan --out`"
                       ).complete = COMPLETE_FILE  # type: ignore[attr-defined]
        p.add_argument("--refresh", help=argparse.SUPPRESS)  # refused with a reason: apply always refreshes in full
        p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
        p.add_argument("--force", action="store_true", help="apply even past the delete/replace safety threshold")
        _duplicates_arg(p, "also delete the duplicates the plan lists (and nothing else unmanaged)")
        p.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (default); json: one document with every change's outcome and the totals "
                            "(needs --auto-approve or a plan file)")

    if p := command("show", "list managed meetings with their links (from the state file), or render a saved plan"):
        _file_args(p)
        _output_args(p, verbose="with a plan file: list unchanged meetings and every note", quiet=True)
        _sandbox_arg(p, online=False)
        p.add_argument("planfile", nargs="?", type=Path,
                       help="a plan saved with `zoomstate plan --out`: shown without reading the state or Zoom"
                       ).complete = COMPLETE_FILE  # type: ignore[attr-defined]
        p.add_argument("--format", choices=("text", "json"), default="text")

    if p := command("import", "bring existing Zoom meetings under management (nothing is created)", online=True):
        _file_args(p)
        _output_args(p, verbose="say more (Zoom requests in the log)")
        _online_args(p, refresh=False)
        _lock_args(p)
        p.add_argument("key", nargs="?", help="the meeting's key in the meetings file")
        p.add_argument("meeting_id", nargs="?", type=int, help="the Zoom meeting id to manage as KEY")
        p.add_argument("--csv", type=Path, metavar="FILE",
                       help="import every meeting listed in the seed script's CSV output (matched by host, topic and "
                            "schedule, checked with Zoom)"
                       ).complete = COMPLETE_FILE  # type: ignore[attr-defined]

    if p := command("convert", "write the meetings.yaml equivalent to a seed script JSON config"):
        p.add_argument("seed_config", type=Path).complete = COMPLETE_FILE  # type: ignore[attr-defined]
        p.add_argument("--out", default="meetings.yaml", help="where to write (default meetings.yaml; - for stdout)")
        p.add_argument("--force", action="store_true", help="overwrite an existing file")

    if p := command("init", "write a commented starter meetings.yaml"):
        p.add_argument("--out", default="meetings.yaml", help="where to write (default meetings.yaml)")
        p.add_argument("--force", action="store_true", help="overwrite an existing file")

    if p := command("state", "work on the state file"):
        state_sub = p.add_subparsers(dest="state_command", metavar="SUBCOMMAND")
        rm = state_sub.add_parser("rm", help="forget a meeting without deleting it in Zoom")
        _file_args(rm)
        _sandbox_arg(rm, online=False)
        _lock_args(rm)
        rm.add_argument("keys", nargs="+", metavar="KEY")
        mv = state_sub.add_parser("mv", help="rename a key in the state file (the Zoom meeting stays as it is)")
        _file_args(mv)
        _sandbox_arg(mv, online=False)
        _lock_args(mv)
        mv.add_argument("old_key", metavar="OLD")
        mv.add_argument("new_key", metavar="NEW")
        ls = state_sub.add_parser("list", help="list the keys in the state file")
        _file_args(ls)
        _sandbox_arg(ls, online=False)

    if p := command("force-unlock", "clear the holder record a run that is gone left (never breaks a held lock)"):
        _file_args(p)
        _sandbox_arg(p, online=False)

    if p := command("export", "rewrite the CSV from the state file, or write calendar feeds or an events page"):
        _file_args(p)
        _sandbox_arg(p, online=False)
        _lock_args(p)
        p.add_argument("--format", choices=("csv", "ics", "html", "markdown"), default="csv",
                       help="csv (default): the CSV file; ics: an RFC 5545 calendar feed; html: a static events page; "
                            "markdown: the events page for a wiki")
        p.add_argument("-o", "--output", metavar="FILE|DIR",
                       help="ics/markdown: the file (default: standard output); html: the folder for index.html "
                            "(default site/)")
        p.add_argument("--split", type=Path, metavar="DIR", help="ics: also write one KEY.ics per meeting into DIR")

    if p := command("check", "health check for scheduled CI: drift, meetings deleted in Zoom, series ending soon or "
                    "at Zoom's cap (exit 0 healthy, 2 attention, 1 error)", online=True):
        _file_args(p)
        _output_args(p, verbose="say more (Zoom requests in the log)")
        _online_args(p, refresh=False)
        p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
        p.add_argument("--days", type=int, default=30, metavar="N",
                       help="report series whose last occurrence is within N days (default 30)")

    if p := command("dump", "write the recurring meetings an account already has as meetings.yaml (the next plan "
                    "adopts them and changes nothing)", online=True):
        _file_args(p, state=False)
        _output_args(p, verbose="say more (Zoom requests in the log)")
        _online_args(p, refresh=False)
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--host", action="append", default=[], metavar="EMAIL", help="a host to dump (repeatable)")
        who.add_argument("--all-hosts", action="store_true", help="every user of the account (GET /users)")
        p.add_argument("-o", "--out", default="meetings.yaml",
                       help="where to write (default meetings.yaml; - for stdout)")
        p.add_argument("--force", action="store_true", help="overwrite an existing file")

    if p := command("refresh", "record in the state what Zoom holds of each managed meeting (links, occurrences); "
                    "changes nothing in Zoom", online=True):
        _file_args(p)
        _output_args(p, verbose="say more (Zoom requests in the log)")
        _online_args(p, refresh=False)
        _lock_args(p)

    if p := command("completion", "print a shell completion script (needs the optional extra `completion`)"):
        p.add_argument("shell", choices=("bash", "zsh"))

    command("schema", "print the path of the JSON Schema of meetings.yaml shipped with zoomstate (for editors)")

    if p := command("sandbox", "the built-in local Zoom API"):
        sandbox_sub = p.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
        serve = sandbox_sub.add_parser("serve", help="serve the local Zoom API until Ctrl-C")
        from zoomstate.sandbox import add_serve_arguments

        add_serve_arguments(serve)
    return parser


class _LazyConsole:
    """A rich console made on first use, so that a command printing nothing styled never imports rich.

    Plain strings (``markup=False``) for a stream that is not a terminal need no rich either: rich would print
    them as they are, with no style, so they are written directly, escaped by the function EscapingConsole
    uses (tabs stay tabs, where rich would expand them to spaces).
    """

    def __init__(self, stream_name: str, color: bool | None):
        self._stream_name, self._color, self._console = stream_name, color, None
        self._plain: bool | None = None  # the stream is not a terminal (decided on the first print)

    def get(self) -> Console:
        if self._console is None:
            from zoomstate import render

            self._console = render.make_console(getattr(sys, self._stream_name), color=self._color)
        return self._console

    def print(self, *objects: Any, markup: bool | None = None, style: Any = None, **kwargs: Any) -> None:
        if markup is False and not kwargs and all(isinstance(o, str) for o in objects) and self._is_plain():
            from zoomstate.document import printable

            stream = getattr(sys, self._stream_name)
            stream.write(" ".join(printable(o, keep="\n\t") for o in objects) + "\n")
            return
        self.get().print(*objects, markup=markup, style=style, **kwargs)

    def _is_plain(self) -> bool:
        """True when the stream is no terminal, so no style would show. When colour is forced (a console made
        with ``color=True``, FORCE_COLOR or TTY_COMPATIBLE, which rich versions read differently) rich decides."""
        if self._plain is None:
            forced = self._color or any(name in os.environ for name in ("FORCE_COLOR", "TTY_COMPATIBLE"))
            isatty = getattr(getattr(sys, self._stream_name), "isatty", None)
            try:
                self._plain = not forced and (isatty is None or not isatty())
            except ValueError:  # a closed stream: rich calls it no terminal too
                self._plain = not forced
        return self._plain

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def _real(console: Any) -> Console:
    return console.get() if isinstance(console, _LazyConsole) else console


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None,
         environ: Mapping[str, str] | None = None) -> int:
    """Run one command. ``clock`` and ``environ`` are for tests and embedding; they default to the real ones."""
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    parser = build_parser(set(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error that argparse has explained
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    _defaults_from_environment(args, os.environ if environ is None else environ)
    color = False if getattr(args, "no_color", False) else None
    out, err = _LazyConsole("stdout", color), _LazyConsole("stderr", color)
    if getattr(args, "verbose", False):
        import logging

        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    args.clock, args.environ = clock, environ
    if args.command == "completion":
        return cmd_completion(args, out, err)
    if args.command == "schema":
        return cmd_schema(args, out)

    from zoomstate.model import InputError, more_errors_line

    try:
        return _dispatch(args, out, err)
    except InputError as exc:
        from zoomstate.diagnostics import diagnostics_text, github_annotations

        if _json_output(args):
            from zoomstate import render

            print(render.errors_json(exc.diagnostics), end="")
            return EXIT_ERROR
        diagnostics_text(exc.diagnostics, err)
        if (environ if environ is not None else os.environ).get("GITHUB_ACTIONS") == "true":
            # Plan errors show on the diff lines too; stderr, so that they never land in a redirected plan.md.
            print(github_annotations(exc.diagnostics), file=sys.stderr)
        if exc.omitted:
            err.print(more_errors_line(exc.omitted), markup=False)
        n = len(exc.diagnostics) + exc.omitted
        err.print(f"{n:,} error{'s' if n != 1 else ''}: nothing was changed.", markup=False)
        return EXIT_ERROR
    except _known_errors() as exc:
        if _json_output(args):
            from zoomstate import render

            print(render.errors_json([str(exc)]), end="")
            return EXIT_ERROR
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted: the state file holds every change that finished; run the command again.",
                  markup=False)
        return 130


def _defaults_from_environment(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """ZOOMSTATE_FILE and ZOOMSTATE_STATE stand in for -f and --state (the sandbox keeps its own state)."""
    if hasattr(args, "meetings") and args.meetings is None:
        args.meetings = Path(environ.get("ZOOMSTATE_FILE") or "meetings.yaml")
    if (hasattr(args, "state") and args.state is None and environ.get("ZOOMSTATE_STATE")
            and not getattr(args, "sandbox", False)):
        args.state = Path(environ["ZOOMSTATE_STATE"])


def _json_output(args: argparse.Namespace) -> bool:
    """Commands whose --format json promises one JSON document on stdout, errors included."""
    return args.command in ("plan", "apply") and getattr(args, "format", "text") == "json"


# The errors a command reports in one line, by the module that defines each. A command imports only the
# stages it runs, and an error can be raised only once its module is loaded: so the classes are looked up
# among the loaded modules when an exception arrives, and a command that never planned loads no planner.
KNOWN_ERRORS = (("zoomstate.manager", "SetupError"), ("zoomstate.plan", "PlanError"),
                ("zoomstate.state", "StateError"), ("zoomstate.zoom.errors", "ZoomError"))


def _known_errors() -> tuple[type[Exception], ...]:
    """The classes of KNOWN_ERRORS whose modules are loaded (an except clause evaluates this when it is reached)."""
    loaded = ((sys.modules.get(module), name) for module, name in KNOWN_ERRORS)
    return tuple(getattr(module, name) for module, name in loaded if module is not None)


def _manager(args: argparse.Namespace) -> Manager:
    from zoomstate.manager import Manager, Options

    options = Options(
        meetings_path=args.meetings,
        state_path=args.state if hasattr(args, "state") else None,
        sandbox=getattr(args, "sandbox", False),
        zoom_plan=getattr(args, "zoom_plan", "pro"),
        parallelism=max(1, getattr(args, "parallelism", 8)),
        verbose=getattr(args, "verbose", False),
        targets=list(getattr(args, "target", []) or []),
        lock_timeout=getattr(args, "lock_timeout", 0.0),
        delete_duplicates=getattr(args, "delete_duplicates", False),
    )
    return Manager(options, environ=args.environ, clock=args.clock)


def _dispatch(args: argparse.Namespace, out, err) -> int:
    command = args.command
    if command == "sandbox":
        if args.sandbox_command != "serve":
            err.print("usage: zoomstate sandbox serve [--port N] [--store FILE]")
            return EXIT_ERROR
        from zoomstate.sandbox import run_serve

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
        from zoomstate.state import StateStore

        stale = StateStore(_manager(args).state_path).force_unlock()  # refuses while the holder runs
        out.print("nothing to unlock: the state was not locked"
                  + (f" (cleared the record a run that is gone left: {stale})" if stale else ""), markup=False)
        return EXIT_OK
    if command == "export":
        return cmd_export(args, out)
    if command == "check":
        from zoomstate import health

        manager = _manager(args)
        with manager.session(online=True, operation="check", lock=False) as session:
            report = manager.check(session, days=max(0, args.days))
        render = {"json": health.report_json, "markdown": health.report_markdown}.get(args.format,
                                                                                       health.report_text)
        sys.stdout.write(render(report))
        return report.exit_code
    if command == "dump":
        from zoomstate import convert, dump

        manager = _manager(args)
        lives = manager.dump(args.host, all_hosts=args.all_hosts)
        schema = convert.schema_reference(_written_folder(args.out)) if args.out != "-" else None
        text, notes = dump.meetings_yaml(lives, manager.clock.now(), schema=schema)
        path = _write_new(args.out, text, args.force)
        for note in notes:
            err.print(note, markup=False)
        if path is not None:
            out.print(f"wrote {path}", markup=False)
        return EXIT_OK
    if command == "refresh":
        manager = _manager(args)
        with manager.session(online=True, operation="refresh", lock=True) as session:
            changed = manager.refresh_outputs(session)
        out.print(f"Recorded what Zoom holds of {changed} meeting(s) in {session.store.path}; "
                  "nothing was changed in Zoom.", markup=False)
        return EXIT_OK
    raise AssertionError(command)


def cmd_export(args, out) -> int:
    manager = _manager(args)
    if args.format == "csv":
        with manager.session(online=False, operation="export", lock=True) as session:
            path = manager.export(session)
        out.print(f"wrote {path}", markup=False)
        return EXIT_OK
    from zoomstate import publish
    from zoomstate.state import atomic_write

    with manager.session(online=False, operation="export", lock=False) as session:
        series = publish.series_of(session.state)
    now = manager.clock.now()
    written: list[Path] = []
    if args.format == "ics":
        text = publish.ics_calendar(series)
        if args.split is not None:
            for one in series:
                path = args.split / f"{one.key}.ics"
                atomic_write(path, publish.ics_calendar([one], name=one.topic).encode("utf-8"),
                             what="the calendar file")
                written.append(path)
    elif args.format == "html":
        text = publish.html_page(series, now)
        args.output = str(Path(args.output or "site") / "index.html")
    else:
        text = publish.markdown_page(series, now)
    if args.output and args.output != "-":
        path = Path(args.output)
        atomic_write(path, text.encode("utf-8"), what=f"the {args.format} file")
        written.append(path)
    elif not written or args.format != "ics" or args.output == "-":
        sys.stdout.write(text)
    for path in written:
        out.print(f"wrote {path}", markup=False)
    return EXIT_OK


def _write_new(path_text: str, text: str, force: bool) -> Path | None:
    from zoomstate.manager import SetupError

    if path_text == "-":
        sys.stdout.write(text)
        return None
    path = Path(path_text)
    if path.exists() and not force:
        raise SetupError(f"{path} already exists: choose another --out, or add --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _written_folder(path_text: str) -> Path:
    """The folder a file written to --out lives in (the current one for stdout)."""
    return Path.cwd() if path_text == "-" else Path(path_text).absolute().parent


def cmd_convert(args, out, err) -> int:
    from zoomstate.convert import convert_seed, schema_reference

    text, notes = convert_seed(args.seed_config, schema=schema_reference(_written_folder(args.out)))
    path = _write_new(args.out, text, args.force)
    for note in notes:
        err.print(f"note: {note}", markup=False)
    if path is not None:
        err.print(f"wrote {path}: check it with `zoomstate validate -f {path}`", markup=False)
    return EXIT_OK


def cmd_init(args, out, err) -> int:
    from datetime import UTC, datetime

    from zoomstate.convert import schema_reference, starter

    today = (args.clock.now() if args.clock else datetime.now(UTC)).date()
    path = _write_new(args.out, starter(today, schema=schema_reference(_written_folder(args.out))), args.force)
    out.print(f"wrote {path}: edit the hosts and meetings, then run `zoomstate plan --sandbox`", markup=False)
    return EXIT_OK


def cmd_schema(args, out) -> int:
    from zoomstate.convert import schema_path

    print(schema_path())
    return EXIT_OK


def cmd_completion(args, out, err) -> int:
    try:
        import shtab
    except ImportError:
        err.print(f"error: shell completion needs the optional extra `completion`: pip install "
                  f"'zoomstate[completion]' (it adds shtab), then run `zoomstate completion {args.shell}` again",
                  markup=False)
        return EXIT_ERROR
    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


def cmd_validate(args, out, err) -> int:
    import json

    from zoomstate.diagnostics import diagnostics_text, github_annotations
    from zoomstate.model import InputError

    manager = _manager(args)
    try:
        desired = manager.validate()
    except InputError as exc:
        if args.format == "github":
            print(github_annotations(exc.diagnostics))
            return EXIT_ERROR
        if args.format == "json":
            print(json.dumps({"valid": False, "errors": [d.__dict__ for d in exc.diagnostics],
                              "more_errors": exc.omitted}, indent=2))
            return EXIT_ERROR
        raise
    if args.format == "github":
        text = github_annotations(desired.warnings)
        if text:
            print(text)
    elif args.format == "json":
        print(json.dumps({"valid": True, "meetings": len(desired.meetings),
                          "warnings": [d.__dict__ for d in desired.warnings]}, indent=2))
    else:
        diagnostics_text(desired.warnings, err, list_notes=args.verbose)
        warnings = sum(1 for d in desired.warnings if d.severity == "warning")
        notes = len(desired.warnings) - warnings
        print(f"{desired.path}: valid, {len(desired.meetings)} meeting(s)"  # plain: nothing to style
              + (f", {warnings} warning(s)" if warnings else "") + (f", {notes} note(s)" if notes else ""))
    return EXIT_OK


def _check_plan_out(path: Path) -> None:
    """Refuse an --out the plan cannot be written to before spending a refresh on it."""
    from zoomstate.manager import SetupError

    if not path.parent.is_dir():
        raise SetupError(f"--out {path}: the folder {path.parent} does not exist: create it first, or save the "
                         "plan elsewhere")
    if path.is_dir():
        raise SetupError(f"--out {path} is a folder: name a file, e.g. {path / 'plan.json'}")


def _write_plan(path: Path, plan: Plan) -> None:
    from zoomstate.manager import SetupError

    try:
        path.write_text(plan.dumps(), encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"--out {path}: cannot write the plan ({exc.strerror or exc}): choose another path") from None


def _print_plan(plan, args: argparse.Namespace, out) -> None:
    """A plan on stdout in the --format asked for (plan and show alike)."""
    from zoomstate import render

    if args.format == "json":
        print(render.plan_json(plan), end="")
    elif args.format == "markdown":
        print(render.plan_markdown(plan), end="")
    elif args.quiet:
        out.print(render.summary_line(plan))
    else:
        render.plan_text(plan, out, show_unchanged=args.verbose)


def cmd_plan(args, out, err) -> int:
    from zoomstate.manager import SetupError

    shallow = args.refresh == "shallow"
    if args.out and shallow:
        raise SetupError("--out with --refresh=shallow: a shallow plan did not read settings, recurrence or "
                         "passcodes, so it cannot be checked at apply: plan without --refresh=shallow to save it")
    if args.out:
        _check_plan_out(args.out)
    manager = _manager(args)
    online = args.refresh in ("true", "shallow")
    with manager.session(online=online, operation="plan", lock=False) as session:
        plan = _plan_with_progress(manager, session, err, refresh_live=online, shallow=shallow)
    if args.out:
        _write_plan(args.out, plan)
    _print_plan(plan, args, out)
    if args.out and args.format == "text":
        out.print(f"Saved the plan to {args.out}: apply it with `zoomstate apply {args.out}`.", markup=False)
    if plan.errors:
        return EXIT_ERROR
    if args.detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_apply(args, out, err) -> int:
    import threading

    from zoomstate import render
    from zoomstate.manager import SetupError, load_plan_file

    as_json = args.format == "json"
    if as_json and not (args.auto_approve or args.planfile):
        raise SetupError("apply --format json cannot ask for confirmation: add --auto-approve, or apply a plan "
                         "saved with `zoomstate plan --out FILE`")
    if args.refresh is not None:
        raise SetupError(f"apply --refresh={args.refresh}: apply always reads every managed meeting from Zoom "
                         "before changing it; drop --refresh (`zoomstate plan --refresh=shallow` is the cheap "
                         "check)")
    manager = _manager(args)
    saved = load_plan_file(args.planfile) if args.planfile else None
    with manager.session(online=True, operation="apply", lock=True) as session:
        plan = _plan_with_progress(manager, session, err, saved=saved)  # a saved plan: checked, planned again
        asks = saved is None and not args.auto_approve
        if not args.quiet and not as_json:
            if len(plan.pending_changes) > render.LONG_PLAN and not asks and not args.verbose:
                render.plan_overview(plan, out)  # each change gets its own line below as it finishes
            else:
                render.plan_text(plan, out, show_unchanged=args.verbose)
        plan = manager.checked(session, plan, force=args.force)  # errors and safety refuse before the prompt
        if not plan.has_changes:
            path = manager.export(session)
            if as_json:
                print(render.apply_json([], session.store.path, session.csv_path), end="")
            else:
                out.print(f"Nothing to do. The CSV is up to date: {path}", markup=False)
            return EXIT_OK
        if asks and not _confirm(out, err):
            return EXIT_ERROR
        total = len(plan.pending_changes)
        counter = {"n": 0}
        lock = threading.Lock()
        progress = render.RunProgress(_real(err), "applying")
        progress.update(0, total)

        def report(outcome: Outcome) -> None:
            with lock:
                counter["n"] += 1
                progress.update(counter["n"], total)
                if not as_json and (not args.quiet or outcome.status != "done"):
                    render.outcome_text(outcome, progress.above(out), counter["n"], total, links=args.verbose)

        try:
            result = manager.apply(session, plan, force=args.force, on_outcome=report)
        finally:
            progress.close()
        if as_json:
            order = {change.key: i for i, change in enumerate(plan.changes)}  # plan order, not finishing order
            outcomes = sorted(result.outcomes, key=lambda o: order.get(o.change.key, len(order)))
            print(render.apply_json(outcomes, session.store.path, session.csv_path), end="")
        else:
            render.result_text(result, out)
            out.print(f"State: {session.store.path}   CSV: {session.csv_path}", markup=False)
        deferred = result.by_status("deferred")
        if deferred:
            err.print(f"{len(deferred)} change(s) deferred by Zoom's daily limit: run apply again after 00:00 UTC; "
                      "nothing will be created twice.")
        return EXIT_OK if result.ok else EXIT_ERROR


def _plan_with_progress(manager: Manager, session: Session, err, *, refresh_live: bool = True,
                        saved: Plan | None = None, shallow: bool = False) -> Plan:
    from zoomstate import render

    progress = render.RunProgress(_real(err), "refreshing from Zoom")
    try:
        if saved is not None:
            return manager.recheck(session, saved, progress=progress.update)
        return manager.make_plan(session, refresh_live=refresh_live, progress=progress.update, shallow=shallow)
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
    import json

    if args.planfile is not None:
        return _show_plan(args, out)
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
        out.print(f"No managed meetings in {session.store.path}.", markup=False)
        return EXIT_OK
    for row in rows if not args.quiet else ():
        out.print(f"{row['key']}  {row['meeting_id']}  {row['host_email']}  \"{row['topic']}\"", markup=False)
        out.print(f"    next: {row['next']} {row['timezone']}", markup=False)
        out.print(f"    join: {row['join_url']}", markup=False)
        if row["registration_url"]:
            out.print(f"    registration: {row['registration_url']}", markup=False)
    out.print(f"{len(rows)} managed meeting(s) in {session.store.path}", markup=False)
    return EXIT_OK


def _show_plan(args, out) -> int:
    """A saved plan as text or JSON: reads only the plan file (no meetings file, state or Zoom)."""
    from zoomstate.manager import load_plan_file
    from zoomstate.plan import PlanError

    plan = load_plan_file(args.planfile)
    try:
        _print_plan(plan, args, out)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a hand-edited file of the right shape
        raise PlanError(f"{args.planfile}: the plan file is damaged ({exc}): plan again") from None
    return EXIT_OK


def cmd_import(args, out) -> int:
    from zoomstate import importer
    from zoomstate.manager import SetupError

    manager = _manager(args)
    if args.csv is not None:
        rows = importer.read_seed_csv(args.csv)
        with manager.session(online=True, operation="import", lock=True) as session:
            assert session.client is not None
            done = importer.import_seed_rows(
                session.desired, session.state, session.store, session.client, rows, str(args.csv),
                manager.clock.now(), account_id=session.account_id)
            manager.export(session)
        for key, meeting_id in done.imported:
            out.print(f"Imported meeting {meeting_id} as {key}.", markup=False)
        for note in done.left:
            out.print(f"left {note}", markup=False)
        for note in done.skipped:
            out.print(f"skipped {note}", markup=False)
        out.print(f"{len(done.imported)} meeting(s) imported, {len(done.left)} left as they are, "
                  f"{len(done.skipped)} skipped. Run `zoomstate plan` next.", markup=False)
        return EXIT_OK if not done.skipped else EXIT_ERROR
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
    if args.state_command not in ("rm", "mv", "list"):
        err.print("usage: zoomstate state rm KEY... | zoomstate state mv OLD NEW | zoomstate state list")
        return EXIT_ERROR
    from zoomstate.plan import PlanError
    from zoomstate.state import StateStore

    manager = _manager(args)
    store = StateStore(manager.state_path)
    if args.state_command == "list":
        state = store.load()
        for key in sorted(state.meetings):
            print(key)
        return EXIT_OK
    if args.state_command == "mv":
        from zoomstate.state import RenameError, rename_key

        with store.lock("state mv", timeout=args.lock_timeout, clock=manager.clock):
            state = store.load()
            try:
                meeting_id = rename_key(state, args.old_key, args.new_key)
            except RenameError as exc:
                raise PlanError(str(exc)) from None
            store.save(state)
        out.print(f"Moved {args.old_key} to {args.new_key} (meeting {meeting_id}; nothing changed in Zoom). "
                  f"Use key {args.new_key} in the meetings file.", markup=False)
        return EXIT_OK
    with store.lock("state rm", timeout=args.lock_timeout, clock=manager.clock):
        state = store.load()
        missing = [k for k in args.keys if k not in state.meetings]
        if missing:
            raise PlanError(f"not in the state file: {', '.join(missing)} (see `zoomstate state list`)")
        for key in args.keys:
            meeting = state.meetings.pop(key)
            out.print(f"Forgot {key} (meeting {meeting.meeting_id} is left as it is in Zoom).", markup=False)
        store.save(state)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
