"""Load a meetings file (YAML or JSON) into plain values, remembering where every value was written.

The file is read with PyYAML's event parser (libyaml's ``CParser`` when available, the pure-Python
parser otherwise) and the values are built from the events in one pass with an explicit stack. No
recursion is involved, so a hostile nesting depth cannot crash the process (libyaml's own composer
recurses in C and overflows the stack at around 100,000 levels).

Scalars keep the text the user wrote. YAML 1.1's implicit typing is replaced by a small, strict set
of rules for plain (unquoted, untagged) scalars:

- ``true`` / ``false`` in any letter case are booleans; ``yes``, ``no``, ``on``, ``off`` are text;
- ``null``, ``~`` and an empty value are null;
- integers are ``[-+]?(0|[1-9][0-9]*)`` only: ``0123`` and ``0x1F`` and ``1_000`` are text;
- floats are plain decimal or exponent forms (``1.5``, ``-0.25``, ``2e3``); ``.inf`` and ``.nan`` are text;
- everything else is text: ``10:00:00`` stays "10:00:00" (not 36000), ``9:30`` stays "9:30",
  ``2027-03-01`` stays "2027-03-01" (no timestamps).

Quoted scalars are always text. Mapping keys are always text, as written.

Limits and refusals (each reported with file, line and column):

- files larger than 5 MiB (at the line where the limit is crossed);
- bytes that are not UTF-8 (the byte offset and line are named); a UTF-8 byte order mark is accepted;
- an empty file, or one with only comments;
- more than one YAML document in the file;
- YAML syntax errors, and a TAB used for indentation ("use spaces");
- a top level that is not a mapping;
- duplicate keys in a mapping (reported at the second occurrence, naming the first one's line);
- explicit tags other than the standard ``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!map``, ``!!seq`` (for example ``!!python/object``: tags are not allowed);
- nesting deeper than 64 mappings/lists (aliases included);
- aliases that expand to more than 100,000 values in total ("billion laughs"); aliases below that
  are fine, and so are merge keys (``<<: *anchor``), whose explicit keys win;
- an alias that refers to a collection containing it, and mapping keys that are lists or mappings.

JSON is YAML, so a JSON file loads unchanged (the seed script's config file included).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from zoomstate.model import Diagnostic, InputError, Position

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIAS_NODES = 100_000

try:  # libyaml is about ten times faster; the pure-Python parser gives the same events
    _Loader: type = yaml.CSafeLoader
    HAVE_LIBYAML = True
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    HAVE_LIBYAML = False

PathTuple = tuple[str | int, ...]
# Where a value was written: (line, column), 1-based, then (line, column) of its key for a value in a mapping.
# One index entry for both, made into a Position only when asked for.
_Where = tuple[int, ...]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null")}
_INT_RE = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT_RE = re.compile(r"[-+]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
_NULLS = {"", "~", "null", "Null", "NULL"}
_NUMBER_OR_BOOL_START = frozenset("+-.0123456789tTfF")
_MERGE_KEY = "<<"


@dataclass(frozen=True)
class Document:
    """A loaded meetings file: plain values plus the source position of every value and key."""

    path: str
    sha256: str
    root: dict[str, Any]
    _values: dict[PathTuple, _Where] = field(default_factory=dict, repr=False)
    # Paths whose value came from an alias or a merge key -> path of the anchored original.
    _links: dict[PathTuple, PathTuple] = field(default_factory=dict, repr=False)

    def position(self, path: Sequence[str | int]) -> Position | None:
        """Where the value at ``path`` (e.g. ``("meetings", 2, "weekly_days")``) was written."""
        found = self.line_col(path)
        return Position(self.path, found[0], found[1]) if found is not None else None

    def line_col(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """position() as a (line, column) pair, for callers that keep many and show few."""
        path = path if type(path) is tuple else tuple(path)
        found = self._values.get(path) or self._lookup(path)  # the usual case first, without following links
        return (found[0], found[1]) if found is not None else None

    def line_cols(self, paths: Iterable[PathTuple]) -> list[tuple[int, int] | None]:
        """line_col() of each path, in one call (a meeting asks for a dozen)."""
        get = self._values.get
        return [(found[0], found[1]) if (found := get(path) or self._lookup(path)) is not None else None
                for path in paths]

    def key_position(self, path: Sequence[str | int]) -> Position | None:
        """Where the mapping key that ends ``path`` was written (for "unknown field" errors)."""
        found = self._lookup(tuple(path), key=True)
        return Position(self.path, found[2], found[3]) if found is not None else None

    def _lookup(self, path: PathTuple, *, key: bool = False) -> _Where | None:
        for _ in range(MAX_DEPTH * 4):  # links can chain (alias of an alias); bounded for safety
            found = self._values.get(path)
            if found is not None and (not key or len(found) == 4):
                return found
            target = self._redirect(path)
            if target is None:
                return None
            path = target
        return None

    def _redirect(self, path: PathTuple) -> PathTuple | None:
        for cut in range(len(path), 0, -1):
            target = self._links.get(path[:cut])
            if target is not None:
                return target + path[cut:]
        return None


def format_path(path: Sequence[str | int]) -> str:
    """``("meetings", 2, "weekly_days")`` -> ``meetings[2].weekly_days``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{printable(part)}" if text else printable(str(part))
    return text


def is_unprintable(char: str) -> bool:
    """Control characters (C0, DEL, C1) and lone surrogates: never valid in a name or a one-line value."""
    return unicodedata.category(char) in ("Cc", "Cs")


# Exactly the characters is_unprintable() accepts (categories Cc and Cs), for one search per text.
_UNPRINTABLE_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def has_unprintable(text: str) -> bool:
    """True when ``text`` holds a character is_unprintable() is true for; one regex search, not one call each."""
    return _UNPRINTABLE_RE.search(text) is not None


# What printable() escapes: the characters above, and the bidirectional controls (embeddings, overrides,
# isolates, marks) that make a terminal show text in another order than it is ("Trojan Source").
_TERMINAL_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep: str = "") -> str:
    """``text`` safe to echo to a terminal: control characters, lone surrogates and bidirectional controls as
    escapes (``\\x1b``, ``\\u202e``); the characters in ``keep`` (e.g. a line break) are left as they are."""
    if _TERMINAL_UNSAFE_RE.search(text) is None:  # the usual case: nothing to escape, one regex search
        return text
    return _TERMINAL_UNSAFE_RE.sub(lambda match: match.group() if match.group() in keep else _escaped(match), text)


def printable_json(text: str) -> str:
    """JSON text safe to echo to a terminal, meaning the same: those characters as ``\\uXXXX`` escapes.

    Outside strings JSON holds only its whitespace (line breaks, tabs), left as it is; inside, json.dumps escapes
    C0 itself, but with ``ensure_ascii=False`` not DEL, C1, bidirectional controls or lone surrogates.
    """
    if _TERMINAL_UNSAFE_RE.search(text) is None:
        return text
    return _TERMINAL_UNSAFE_RE.sub(
        lambda match: match.group() if match.group() in "\n\r\t" else f"\\u{ord(match.group()):04x}", text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain_scalar(text: str) -> Any:
    """The value of an unquoted, untagged scalar under this project's strict rules."""
    if text in _NULLS:
        return None
    first = text[0]  # not empty: "" is a null
    if first not in _NUMBER_OR_BOOL_START:
        return text  # most text: no number or true/false starts this way
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT_RE.fullmatch(text):
        return int(text)
    if _FLOAT_RE.fullmatch(text) and any(ch in text for ch in ".eE"):
        return float(text)
    return text


def load_document(path: str | Path) -> Document:
    """Read and parse a meetings file. Raises ``InputError`` with file:line:col diagnostics."""
    name = str(path)
    raw = _read_limited(Path(path), name)
    text = _decode(raw, name)
    if not text.strip():
        raise InputError([_empty_file(name)])
    root, builder = _build(text, name)
    if root is None:
        raise InputError([_empty_file(name)])
    if not isinstance(root, dict):
        found = "a list" if isinstance(root, list) else f"a single value ({_kind(root)})"
        raise InputError([Diagnostic(
            "error", name, 1, 1, "", f"the top level must be a mapping, not {found}",
            "start the file with `meetings:` followed by a list of meetings",
        )])
    return Document(name, hashlib.sha256(raw).hexdigest(), root, builder.values, builder.links)


def _error(name: str, line: int | None, col: int | None, message: str, hint: str = "") -> InputError:
    return InputError([Diagnostic("error", name, line, col, "", message, hint)])


def _tag_text(tag: str) -> str:
    """The tag as the user wrote it: ``tag:yaml.org,2002:binary`` -> ``!!binary``."""
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _empty_file(name: str) -> Diagnostic:
    return Diagnostic("error", name, 1, 1, "", "the file is empty: start with `meetings:`",
                      "add `meetings:` and a list of meetings below it")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "text"


def _read_limited(path: Path, name: str) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # read one byte more to detect an oversized file
    except FileNotFoundError:
        raise _error(name, None, None, "file not found", "check the path, or pass -f FILE") from None
    except OSError as exc:
        raise _error(name, None, None, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        # Name the line where the limit is crossed, so every refusal points at a line of the file.
        line = raw.count(b"\n", 0, MAX_FILE_BYTES) + 1
        raise _error(name, line, None, f"the file is larger than 5 MiB: line {line} goes past the limit",
                     "a meetings file this large is not supported: split it")
    return raw


def _decode(raw: bytes, name: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _error(
            name, line, exc.start - line_start + 1,
            f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}) is not valid UTF-8",
            "save the file as UTF-8",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not HAVE_LIBYAML and "\t" in text:  # pragma: no cover - pure-Python parser rejects tabbed JSON
        text = _untab_json(text)
    if _SURROGATE_PAIR_RE.search(text) is not None:
        text = _join_surrogate_pairs(text)
    return text


# A character outside the BMP as JSON escapes it (Python's json.dumps by default): "\ud83d\ude00". YAML
# has no surrogate escapes (it writes "\U0001f600") and refuses the pair. The backslash must not itself be
# escaped: an even run of backslashes before it.
_SURROGATE_PAIR_RE = re.compile(r"(?<!\\)((?:\\\\)*)\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _join_surrogate_pairs(text: str) -> str:
    """A JSON file's surrogate-pair escapes as YAML's 8-digit escapes, which mean the same character.

    Only in a file that is JSON: there every backslash escape is inside a double-quoted string, whereas in
    YAML text ``\\ud83d`` may be written in a single-quoted or plain value, where it is literal text. A
    value after a pair on the same line is reported two columns left of where it is written.
    """
    try:
        json.loads(text)
    except ValueError:
        return text

    def joined(match: re.Match[str]) -> str:
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        return f"{match.group(1)}\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08x}"

    return _SURROGATE_PAIR_RE.sub(joined, text)


def _untab_json(text: str) -> str:  # pragma: no cover - only without libyaml
    # JSON forbids raw tabs inside strings, so outside-string tabs can safely become spaces.
    try:
        json.loads(text)
    except ValueError:
        return text
    return text.replace("\t", " ")


def _build(text: str, name: str) -> tuple[Any, _Builder]:
    builder = _Builder(name)
    loader = None
    try:
        loader = _Loader(text)
        # yaml.parse() without its generator: iter(callable, None) asks the parser for each event from C.
        builder.run(iter(loader.get_event, None))
    except yaml.MarkedYAMLError as exc:
        raise InputError([*builder.errors, _syntax_diagnostic(exc, text, name)]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise _error(name, line, None, f"unacceptable character: {exc.reason}",
                     "remove control characters from the file") from None
    except yaml.YAMLError as exc:
        raise _error(name, None, None, f"YAML error: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if builder.errors:
        raise InputError(builder.errors)
    return builder.root, builder


def _syntax_diagnostic(exc: yaml.MarkedYAMLError, text: str, name: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
        mark = exc.context_mark  # an unclosed quote or bracket: point at where it was opened
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    if mark is not None and _tab_indented(text, mark.line):
        return Diagnostic("error", name, line, col, "", "a TAB is used for indentation",
                          "use spaces to indent YAML, never tabs")
    problem = exc.problem or "the YAML is not well formed"
    if "nesting depth" in problem:  # newer libyaml stops deep nesting itself, before our own check
        return Diagnostic("error", name, line, col, "", f"the file is nested deeper than {MAX_DEPTH} levels",
                          "a meetings file needs only a few levels: check brackets and indentation")
    message = f"YAML syntax error: {problem}"
    if exc.context:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            message += f" started on line {exc.context_mark.line + 1}"
        message += ")"
    return Diagnostic("error", name, line, col, "", message,
                      "check indentation, colons and quotes on this line and the line before")


def _tab_indented(text: str, line_index: int) -> bool:
    lines = text.split("\n")
    if not 0 <= line_index < len(lines):
        return False
    line = lines[line_index]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indent


@dataclass
class _Frame:
    """A mapping or list being built."""

    value: dict[str, Any] | list[Any]
    path: PathTuple
    anchor: str | None
    alias_nodes_at_start: int
    nodes_at_start: int
    height: int = 1  # nesting height of this subtree, for alias depth checks
    is_list: bool = False
    pending_key: str | None = None
    key_line: int = 0
    key_col: int = 0
    merges: list[tuple[PathTuple, dict[str, Any]]] = field(default_factory=list)
    merge_key_pending: bool = False
    first_line: dict[str, int] = field(default_factory=dict)


@dataclass
class _Anchored:
    value: Any
    path: PathTuple
    nodes: int  # values inside, as expanded
    height: int


class _Builder:
    """Turns parser events into plain values and position indexes, without recursion."""

    def __init__(self, name: str):
        self.name = name
        self.root: Any = None
        self.values: dict[PathTuple, _Where] = {}
        self.links: dict[PathTuple, PathTuple] = {}
        self.errors: list[Diagnostic] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchored] = {}
        self.open_anchors: set[str] = set()
        self.nodes = 0
        self.alias_nodes = 0
        self.documents = 0

    def where(self, mark: Any) -> _Where:
        """Index entry for the next value: with its key's place when it is a value in a mapping."""
        top = self.stack[-1] if self.stack else None
        if top is not None and top.pending_key is not None:
            return (mark.line + 1, mark.column + 1, top.key_line, top.key_col)
        return (mark.line + 1, mark.column + 1)

    def here(self) -> str:
        """Field path of the value being read (its mapping's path while a key is read)."""
        path = self.child_path()
        return format_path(path if path is not None else self.stack[-1].path)

    def diagnostic(self, mark: Any, message: str, hint: str = "") -> Diagnostic:
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        return Diagnostic("error", self.name, line, col, self.here(), message, hint)

    def fail(self, mark: Any, message: str, hint: str = "") -> InputError:
        return InputError([*self.errors, self.diagnostic(mark, message, hint)])

    def run(self, events: Iterator[Any]) -> None:
        for event in events:
            if event.__class__ is ScalarEvent:  # most events: checked first and without isinstance
                self.scalar(event)
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                self.start(event)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                self.end()
            elif isinstance(event, AliasEvent):
                self.alias(event)
            elif isinstance(event, DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise self.fail(event.start_mark, "the file holds more than one YAML document",
                                    "remove the `---` line: keep everything in one document")
            elif isinstance(event, StreamEndEvent):
                break

    # -- where a new value goes -------------------------------------------------------------

    def child_path(self) -> PathTuple | None:
        """Path for the next value, or None when the next value is a mapping key."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.is_list:
            return (*top.path, len(top.value))
        if top.pending_key is None and not top.merge_key_pending:
            return None
        return (*top.path, top.pending_key if top.pending_key is not None else _MERGE_KEY)

    def place(self, value: Any, path: PathTuple, height: int) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if height >= top.height:
            top.height = height + 1
        if top.is_list:
            top.value.append(value)
            return
        if top.merge_key_pending:
            top.merge_key_pending = False
            self.add_merge(top, value, path)
            return
        key = top.pending_key
        top.pending_key = None
        if key is not None and key not in top.first_line:
            top.first_line[key] = top.key_line
            top.value[key] = value

    def add_merge(self, top: _Frame, value: Any, path: PathTuple) -> None:
        sources = value if isinstance(value, list) else [value]
        for index, source in enumerate(sources):
            if not isinstance(source, dict):
                pos = self.values.get(path)
                raise InputError([*self.errors, Diagnostic(
                    "error", self.name, pos[0] if pos else None, pos[1] if pos else None,
                    format_path(path), "a merge key `<<` needs a mapping or a list of mappings",
                    "write `<<: *anchor` where the anchor names a mapping",
                )])
            source_path = (*path, index) if isinstance(value, list) else path
            top.merges.append((self.links.get(source_path, source_path), source))

    def take_key(self, text: str, mark: Any, plain: bool) -> None:
        top = self.stack[-1]
        assert isinstance(top.value, dict)
        if plain and text == _MERGE_KEY:
            top.merge_key_pending = True
            return
        first = top.first_line.get(text)
        line = mark.line + 1
        if first is not None:
            self.errors.append(Diagnostic(
                "error", self.name, line, mark.column + 1, format_path((*top.path, text)),
                f"duplicate key `{printable(text)}` (first written on line {first})",
                "remove one of them: YAML would silently keep only the last",
            ))
        top.pending_key = text
        top.key_line, top.key_col = line, mark.column + 1

    # -- events -----------------------------------------------------------------------------

    def scalar(self, event: ScalarEvent) -> None:
        # Called for most events, so the common cases avoid calls: child_path() and place() are inlined for a
        # value in a mapping, and an untagged scalar's value is computed here.
        tag = event.tag
        top = self.stack[-1] if self.stack else None
        in_mapping = False
        if top is None:
            path: PathTuple = ()
        elif top.is_list:
            path = (*top.path, len(top.value))
        elif top.pending_key is not None:
            path, in_mapping = (*top.path, top.pending_key), True
        elif top.merge_key_pending:
            path = (*top.path, _MERGE_KEY)
        else:  # a mapping key: always its text as written (a tag on it is still checked)
            text = event.value
            if tag is None and text != _MERGE_KEY and text not in top.first_line:
                mark = event.start_mark  # take_key() for a new, untagged key
                top.pending_key, top.key_line, top.key_col = text, mark.line + 1, mark.column + 1
                return
            if tag is not None:
                self.scalar_value(event)
            self.take_key(text, event.start_mark, tag is None and event.implicit[0])
            return
        if tag is None:
            value = plain_scalar(event.value) if event.implicit[0] else event.value
        else:
            value = self.scalar_value(event)
        self.nodes += 1
        mark = event.start_mark
        self.values[path] = (mark.line + 1, mark.column + 1, top.key_line, top.key_col) if in_mapping else (
            mark.line + 1, mark.column + 1)
        if event.anchor is not None:
            self.anchors[event.anchor] = _Anchored(value, path, 1, 0)
        if not in_mapping:
            self.place(value, path, 0)
            return
        key = top.pending_key  # place() for this case: a scalar does not change the mapping's height
        top.pending_key = None
        if key not in top.first_line:
            top.first_line[key] = top.key_line
            top.value[key] = value

    def scalar_value(self, event: ScalarEvent) -> Any:
        tag, text = event.tag, event.value
        if tag is None:
            return plain_scalar(text) if event.implicit[0] else text
        if tag == "!" or tag == _TAG + "str":
            return text
        if tag not in _SCALAR_TAGS:
            self.tag_error(event)
            return text
        value = plain_scalar(text)
        wanted = tag[len(_TAG):]
        if wanted == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = {"int": int, "float": float, "bool": bool, "null": type(None)}[wanted]
        if not isinstance(value, ok) or (wanted == "int" and isinstance(value, bool)):
            self.errors.append(self.diagnostic(
                event.start_mark, f"`{text}` is not a valid !!{wanted} value",
                "remove the tag, or fix the value",
            ))
            return text
        return value

    def tag_error(self, event: Any) -> None:
        self.errors.append(self.diagnostic(
            event.start_mark, f"tags are not allowed here: `{printable(_tag_text(event.tag))}`",
            "remove the tag; only plain values, lists and mappings are allowed",
        ))

    def start(self, event: MappingStartEvent | SequenceStartEvent) -> None:
        path = self.child_path()
        if path is None:
            raise self.fail(event.start_mark, "a mapping key must be plain text, not a list or mapping")
        is_map = isinstance(event, MappingStartEvent)
        if event.tag not in (None, "!", _TAG + ("map" if is_map else "seq")):
            self.tag_error(event)
        if len(self.stack) + 1 > MAX_DEPTH:
            raise self.fail(event.start_mark, f"the file is nested deeper than {MAX_DEPTH} levels",
                            "meetings files need only a few levels: check the indentation")
        self.nodes += 1
        self.values[path] = self.where(event.start_mark)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Frame({} if is_map else [], path, event.anchor, self.alias_nodes, self.nodes,
                                 is_list=not is_map))

    def end(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.value, dict):
            self.apply_merges(frame)
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
            nodes = self.nodes - frame.nodes_at_start + 1 + (self.alias_nodes - frame.alias_nodes_at_start)
            self.anchors[frame.anchor] = _Anchored(frame.value, frame.path, nodes, frame.height)
        self.place(frame.value, frame.path, frame.height)

    def apply_merges(self, frame: _Frame) -> None:
        assert isinstance(frame.value, dict)
        for source_path, source in frame.merges:
            for key, value in source.items():
                if key in frame.value:
                    continue  # explicit keys, and earlier merges, win
                frame.value[key] = copy.deepcopy(value)
                self.links[(*frame.path, key)] = (*source_path, key)

    def alias(self, event: AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(event.start_mark, f"alias *{name} refers to a collection that contains it",
                            "an alias cannot point at its own parent")
        anchored = self.anchors.get(name)
        if anchored is None:
            raise self.fail(event.start_mark, f"alias *{name} has no matching anchor &{name} before it")
        path = self.child_path()
        if path is None:
            if not isinstance(anchored.value, str):
                raise self.fail(event.start_mark, "a mapping key must be plain text, not a list or mapping")
            self.take_key(anchored.value, event.start_mark, False)
            return
        self.alias_nodes += anchored.nodes
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise self.fail(event.start_mark,
                            f"aliases expand to more than {MAX_ALIAS_NODES:,} values",
                            "this looks like an alias bomb; write the values out instead")
        if len(self.stack) + anchored.height > MAX_DEPTH:
            raise self.fail(event.start_mark, f"the file is nested deeper than {MAX_DEPTH} levels",
                            "the alias expands below too many levels")
        self.values[path] = self.where(event.start_mark)
        self.links[path] = anchored.path
        self.place(copy.deepcopy(anchored.value), path, anchored.height)
