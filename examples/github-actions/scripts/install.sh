#!/usr/bin/env bash
# Install zoomstate into a virtual environment of its own, from the action's checkout (ZOOMSTATE_SOURCE),
# once per job: a later step of the same job that uses the action again finds it installed.
set -euo pipefail
source_dir="${ZOOMSTATE_SOURCE:?set ZOOMSTATE_SOURCE to the zoomstate checkout}"
venv="${ZOOMSTATE_VENV:-${RUNNER_TEMP:-/tmp}/zoomstate-venv}"
stamp="$venv/.zoomstate-source"
# actions/setup-python puts `python` first on the PATH; the runner's own is python3.
python="$(command -v python || command -v python3)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$source_dir" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  venv_python="$venv/bin/python"
  if [ ! -e "$venv_python" ]; then
    venv_python="$venv/Scripts/python"  # a Windows runner
  fi
  # A venv, not the system site: runners (and Debian/Ubuntu Pythons) refuse global installs.
  "$venv_python" -m pip install --quiet --disable-pip-version-check "$source_dir"
  printf '%s' "$source_dir" > "$stamp"
fi
bin="$venv/bin"
if [ -d "$venv/Scripts" ]; then
  bin="$venv/Scripts"  # a Windows runner
fi
"$bin/zoomstate" --version
echo "$bin" >> "${GITHUB_PATH:-/dev/null}"  # later steps of the job can run `zoomstate` too
{
  echo "zoomstate=$bin/zoomstate"
  echo "python=$bin/python"
  echo "scripts-dir=$source_dir/examples/github-actions/scripts"
} >> "${GITHUB_OUTPUT:-/dev/null}"
