"""The wheel carries the schema, so a plain `pip install .` works from any folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_schemas_and_console_script(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True, cwd=tmp_path, capture_output=True,
    )
    wheel = next(tmp_path.glob("zoomstate-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "zoomstate/schemas/meetings.schema.json" in names
    assert "zoomstate/sandbox/server.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "zoomstate = zoomstate.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "zoomstate", "--version"], capture_output=True, text=True,
                            cwd="/")
    assert result.returncode == 0 and result.stdout.startswith("zoomstate ")
