"""The pre-commit hook: validate every meetings file pre-commit passes (several, in any folder, YAML or JSON)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """`zoomstate validate -f FILE` for each file; 1 when any of them is invalid, after checking them all."""
    from zoomstate import cli

    files = list(sys.argv[1:] if argv is None else argv)
    if not files:
        return 0
    return max(cli.main(["validate", "-f", path]) for path in files)


if __name__ == "__main__":
    raise SystemExit(main())
