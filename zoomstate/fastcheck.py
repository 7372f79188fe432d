"""A quick yes/no check of a value against a JSON Schema, for the common case where the file is valid.

``compile_schema(schema)`` turns a schema into a predicate that returns True only when jsonschema
(Draft 2020-12, format assertions on) would find no error in the value. It understands the subset of the
vocabulary the meetings schema uses: type, enum, const, minimum, maximum, minLength, maxLength, minItems,
maxItems, pattern, format email, anyOf, properties, patternProperties, additionalProperties, required,
items, local ``$ref`` into ``$defs``, and annotations (description, examples, ...). A schema with any other
keyword compiles to a predicate that always says False: "ask jsonschema". False never means "invalid",
only "not known to be valid"; jsonschema then finds (and words) the errors.

Checked against jsonschema by the tests, on every input file and on random changes to valid files.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Any], bool]

# Keywords that never make a value invalid.
_ANNOTATIONS = frozenset({
    "$schema", "$comment", "$defs", "title", "description", "examples", "default", "deprecated",
    "readOnly", "writeOnly",
})
_HANDLED = frozenset({
    "type", "enum", "const", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
    "pattern", "format", "anyOf", "properties", "patternProperties", "additionalProperties", "required",
    "items", "$ref",
})
_REF_PREFIX = "#/$defs/"


class Unsupported(Exception):
    """The schema uses something this compiler does not mirror exactly."""


def compile_schema(schema: Mapping[str, Any] | bool) -> Predicate:
    """A predicate that is True only for values jsonschema finds valid (always False when unsupported)."""
    try:
        return _Compiler(schema).compile(schema, frozenset(), top=True)
    except Unsupported:
        return _never


def _never(value: Any) -> bool:
    return False


def _always(value: Any) -> bool:
    return True


class _Compiler:
    def __init__(self, root: Mapping[str, Any] | bool):
        self.root = root
        self.refs: dict[str, Predicate] = {}
        self.compiling: set[str] = set()

    def compile(self, schema: Any, refs_here: frozenset[str], *, top: bool = False) -> Predicate:
        """``refs_here``: $refs followed since the value last changed (a loop among them never ends)."""
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema must be a mapping or true/false")
        unknown = set(schema) - _ANNOTATIONS - _HANDLED - ({"$id"} if top else set())
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        fused = _fused_text(schema) or _fused_integer(schema)
        if fused is not None:
            return fused
        checks: list[Predicate] = []
        if "type" in schema:
            checks.append(_type_check(schema["type"]))
        for keyword in ("enum", "const"):
            if keyword in schema:
                checks.append(_equal_check(schema[keyword] if keyword == "enum" else [schema[keyword]]))
        checks.extend(_number_checks(schema))
        checks.extend(_string_checks(schema))
        checks.extend(self._array_checks(schema))
        checks.extend(self._object_checks(schema))
        if "anyOf" in schema:
            checks.append(self._any_of(schema["anyOf"], refs_here))
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"], refs_here))
        return _all(checks)

    def _ref(self, ref: Any, refs_here: frozenset[str]) -> Predicate:
        if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX) or ref in refs_here:
            raise Unsupported(f"$ref {ref!r}")
        if ref in self.refs:
            return self.refs[ref]
        if ref in self.compiling:  # recursive through a child value: look it up when called
            return lambda value: self.refs[ref](value)
        name = ref[len(_REF_PREFIX):]
        defs = self.root.get("$defs") if isinstance(self.root, Mapping) else None
        if not isinstance(defs, Mapping) or name not in defs or "/" in name or "~" in name:
            raise Unsupported(f"$ref {ref!r}")
        self.compiling.add(ref)
        compiled = self.compile(defs[name], refs_here | {ref})
        self.compiling.discard(ref)
        self.refs[ref] = compiled
        return compiled

    def _any_of(self, branches: Any, refs_here: frozenset[str]) -> Predicate:
        if not isinstance(branches, list) or not branches:
            raise Unsupported("anyOf")
        compiled = [self.compile(branch, refs_here) for branch in branches]
        return lambda value: any(check(value) for check in compiled)

    def _array_checks(self, schema: Mapping[str, Any]) -> list[Predicate]:
        checks = []
        checks += _length_checks(list, schema.get("minItems"), schema.get("maxItems"))
        if "items" in schema:
            item = self.compile(schema["items"], frozenset())
            checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        return checks

    def _object_checks(self, schema: Mapping[str, Any]) -> list[Predicate]:
        checks = []
        required = schema.get("required")
        if required is not None:
            if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
                raise Unsupported("required")
            names = tuple(required)
            checks.append(lambda v: not isinstance(v, dict) or all(n in v for n in names))
        if not {"properties", "patternProperties", "additionalProperties"} & schema.keys():
            return checks
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        if not isinstance(properties, Mapping) or not isinstance(patterns, Mapping):
            raise Unsupported("properties")
        props = {name: self.compile(sub, frozenset()) for name, sub in properties.items()}
        by_pattern = [(re.compile(p), self.compile(sub, frozenset())) for p, sub in patterns.items()]
        # jsonschema decides "additional" with the patterns joined into one regex; so does this.
        joined = re.compile("|".join(patterns)) if patterns else None
        additional = (self.compile(schema["additionalProperties"], frozenset())
                      if "additionalProperties" in schema else None)

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for name, item in value.items():
                if not isinstance(name, str):
                    return False  # not JSON: let jsonschema decide
                sub = props.get(name)
                if sub is not None and not sub(item):
                    return False
                for pattern, pattern_check in by_pattern:
                    if pattern.search(name) and not pattern_check(item):
                        return False
                if (sub is None and additional is not None and not (joined is not None and joined.search(name))
                        and not additional(item)):
                    return False
            return True

        checks.append(check)
        return checks


# -- one call for the usual leaf schemas (most of a file's values): the same checks, fused ----------------

_TEXT_KEYWORDS = frozenset({"type", "minLength", "maxLength", "pattern", "format"})
_INTEGER_KEYWORDS = frozenset({"type", "minimum", "maximum", "enum"})


def _fused_text(schema: Mapping[str, Any]) -> Predicate | None:
    """``type: string`` with length, pattern and email checks, as one function."""
    if schema.get("type") != "string" or not set(schema) - _ANNOTATIONS <= _TEXT_KEYWORDS:
        return None
    low, high = _count(schema.get("minLength"), 0), _count(schema.get("maxLength"), None)
    pattern = schema.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise Unsupported("pattern")
    search = re.compile(pattern).search if pattern is not None else None
    if schema.get("format", "email") not in ("email", "idn-email"):
        raise Unsupported(f"format {schema['format']!r}")
    email = "format" in schema

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        size = len(value)
        return (size >= low and (high is None or size <= high) and (search is None or search(value) is not None)
                and (not email or "@" in value))

    return check


def _fused_integer(schema: Mapping[str, Any]) -> Predicate | None:
    """``type: integer`` with bounds and a list of whole-number choices, as one function."""
    if schema.get("type") != "integer" or not set(schema) - _ANNOTATIONS <= _INTEGER_KEYWORDS:
        return None
    low, high, choices = schema.get("minimum"), schema.get("maximum"), schema.get("enum")
    for limit in (low, high):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)):
            raise Unsupported("minimum/maximum")
    if choices is not None and (not isinstance(choices, list) or not all(type(c) is int for c in choices)):
        return None  # other choices: the general form compares them the JSON way
    allowed = frozenset(choices) if choices is not None else None

    def check(value: Any) -> bool:
        if not _is_integer(value):
            return False
        # A whole number (int, or a float like 60.0) compares with int choices and bounds by plain ==, <, >.
        return ((low is None or value >= low) and (high is None or value <= high)
                and (allowed is None or value in allowed))

    return check


def _all(checks: list[Predicate]) -> Predicate:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)

    def check(value: Any) -> bool:
        for one in checks:
            if not one(value):
                return False
        return True

    return check


def _count(value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unsupported("a count must be a whole number")
    return value


# -- types and values ---------------------------------------------------------------------------


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPES: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _type_check(types: Any) -> Predicate:
    names = [types] if isinstance(types, str) else types
    if not isinstance(names, list) or not names or not all(name in _TYPES for name in names):
        raise Unsupported(f"type {types!r}")
    checks = [_TYPES[name] for name in names]
    if len(checks) == 1:
        return checks[0]
    return lambda value: any(check(value) for check in checks)


_SCALARS = (str, int, float, bool, type(None))


def _equal_check(allowed: Any) -> Predicate:
    if not isinstance(allowed, list) or not all(type(a) in _SCALARS for a in allowed):
        raise Unsupported("enum/const of lists or mappings")
    choices = tuple(allowed)

    def check(value: Any) -> bool:
        if type(value) not in _SCALARS:
            return False  # a list, mapping or unusual type: let jsonschema decide
        return any(_json_equal(choice, value) for choice in choices)

    return check


def _json_equal(one: Any, two: Any) -> bool:
    """jsonschema's equality for scalars: text by ==, true/false only equal themselves, numbers by ==."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, bool) or isinstance(two, bool):
        return False  # distinct objects, so not the same truth value
    return one == two


def _number_checks(schema: Mapping[str, Any]) -> list[Predicate]:
    checks = []
    for keyword in ("minimum", "maximum"):
        if keyword not in schema:
            continue
        limit = schema[keyword]
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            raise Unsupported(keyword)
        checks.append(_bound(limit, keyword == "minimum"))
    return checks


def _bound(limit: int | float, is_minimum: bool) -> Predicate:
    def check(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            return True  # the keyword applies to numbers only
        if not isinstance(value, int | float):
            return False  # Decimal, Fraction...: let jsonschema decide
        return not (value < limit if is_minimum else value > limit)

    return check


def _length_checks(kind: type, low: Any, high: Any) -> list[Predicate]:
    """minLength/maxLength for strings, minItems/maxItems for lists: values of other types pass."""
    if low is None and high is None:
        return []
    low_n, high_n = _count(low, 0), _count(high, None)
    return [lambda v: not isinstance(v, kind) or (len(v) >= low_n and (high_n is None or len(v) <= high_n))]


def _string_checks(schema: Mapping[str, Any]) -> list[Predicate]:
    checks = []
    checks += _length_checks(str, schema.get("minLength"), schema.get("maxLength"))
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise Unsupported("pattern")
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    if "format" in schema:
        if schema["format"] not in ("email", "idn-email"):
            raise Unsupported(f"format {schema['format']!r}")
        checks.append(lambda v: not isinstance(v, str) or "@" in v)
    return checks
