#!/usr/bin/env bash
# Run one zoomstate command for the action. Standard output goes to a file (the markdown plan, say) and,
# for text output, to the log too; standard error goes to the log and to a copy beside the output, so the
# plan comment can quote the errors. Annotations (::error ...) are on standard error: they reach the log,
# never the comment. The exit code becomes the exit-code output.
set -uo pipefail
command="${ZOOMSTATE_COMMAND:?set ZOOMSTATE_COMMAND}"
out_dir="${RUNNER_TEMP:-/tmp}/zoomstate"
mkdir -p "$out_dir"
zoomstate_bin="${ZOOMSTATE_BIN:-zoomstate}"

# Split ZOOMSTATE_ARGS like a shell, without running it through one (no expansion, no injection).
args=()
while IFS= read -r -d '' word; do
  args+=("$word")
done < <("${ZOOMSTATE_PYTHON:-python3}" -c 'import os, shlex, sys
sys.stdout.write("".join(w + "\0" for w in shlex.split(os.environ.get("ZOOMSTATE_ARGS", ""))))') || {
  echo "::error::the args input is not valid shell words: ${ZOOMSTATE_ARGS:-}" >&2
  exit 1
}

format=text
detailed=false
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --format) format="${args[i + 1]:-text}" ;;
    --format=*) format="${args[i]#--format=}" ;;
    --detailed-exitcode) detailed=true ;;
  esac
done
case "$format" in
  markdown) ext=md ;;
  json) ext=json ;;
  *) ext=txt ;;
esac
output_file="${ZOOMSTATE_OUTPUT_FILE:-$out_dir/$command.$ext}"
log_file="$out_dir/$command.log"
: > "$log_file"

if [ "$ext" = txt ]; then
  "$zoomstate_bin" "$command" "${args[@]}" 2> >(tee -a "$log_file" >&2) | tee "$output_file"
  code=${PIPESTATUS[0]}
else
  "$zoomstate_bin" "$command" "${args[@]}" > "$output_file" 2> >(tee -a "$log_file" >&2)
  code=$?
  echo "zoomstate $command: wrote $output_file" >&2
fi
wait "$!" 2> /dev/null || true  # the log's tee has finished before anyone reads the log

if [ "$code" -eq 2 ] && [ "$detailed" != true ]; then
  code=1  # 2 means "changes present" only with --detailed-exitcode; otherwise it is a usage error
fi
if [ "$ext" = md ] && [ -s "$output_file" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  # GitHub takes at most 1 MiB of summary per step.
  if [ "$(wc -c < "$output_file")" -lt 1000000 ]; then
    cat "$output_file" >> "$GITHUB_STEP_SUMMARY"
  else
    echo "The plan is too long for the job summary: it is in the plan comments and in $output_file." \
      >> "$GITHUB_STEP_SUMMARY"
  fi
fi
{
  echo "exit-code=$code"
  echo "output-file=$output_file"
  echo "log-file=$log_file"
} >> "${GITHUB_OUTPUT:-/dev/null}"
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ] && [ "${ZOOMSTATE_FAIL_ON_ERROR:-true}" = true ]; then
  exit "$code"
fi
exit 0
