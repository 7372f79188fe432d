#!/usr/bin/env bash
# Commit the state file and the CSV after apply and push them to the branch, surviving pushes made
# meanwhile: on a refused push, fetch the branch, rebase this one commit onto it and push again, a few
# times with a growing pause. A rebase conflict (someone else changed the state file) stops it: nothing
# is forced, and the apply job keeps the files as an artifact.
#
# usage: commit-back.sh [PATH...]   (default: state/zoomstate.json zoom_meetings.csv)
# env:   ZOOMSTATE_BRANCH (default GITHUB_REF_NAME, else main), ZOOMSTATE_PUSH_ATTEMPTS (5),
#        ZOOMSTATE_PUSH_DELAY (seconds, 3), ZOOMSTATE_COMMIT_MESSAGE, ZOOMSTATE_REMOTE (origin)
set -euo pipefail
branch="${ZOOMSTATE_BRANCH:-${GITHUB_REF_NAME:-main}}"
remote="${ZOOMSTATE_REMOTE:-origin}"
attempts="${ZOOMSTATE_PUSH_ATTEMPTS:-5}"
delay="${ZOOMSTATE_PUSH_DELAY:-3}"
message="${ZOOMSTATE_COMMIT_MESSAGE:-zoomstate: record applied meetings [skip ci]}"
if [ "$#" -eq 0 ]; then
  set -- state/zoomstate.json zoom_meetings.csv
fi

git config user.name > /dev/null || git config user.name "zoomstate"
git config user.email > /dev/null || git config user.email "zoomstate@users.noreply.github.com"

paths=()
for path in "$@"; do
  if [ -e "$path" ] || git ls-files --error-unmatch -- "$path" > /dev/null 2>&1; then
    paths+=("$path")
  fi
done
if [ "${#paths[@]}" -eq 0 ]; then
  echo "commit-back: none of $* exists: nothing to commit"
  exit 0
fi
git add -A -- "${paths[@]}"
if git diff --cached --quiet; then
  echo "commit-back: the state and the CSV are already committed"
  exit 0
fi
git commit --quiet -m "$message"

for ((attempt = 1; attempt <= attempts; attempt++)); do
  if git push --quiet "$remote" "HEAD:refs/heads/$branch"; then
    echo "commit-back: pushed $(git rev-parse --short HEAD) to $branch (attempt $attempt)"
    exit 0
  fi
  echo "commit-back: push to $branch refused (it moved during the run): fetching and rebasing," \
    "attempt $attempt of $attempts" >&2
  if ! git fetch --quiet "$remote" "$branch"; then
    echo "commit-back: fetch failed; trying again" >&2
  elif ! git rebase --quiet FETCH_HEAD; then
    git rebase --abort || true
    echo "::error::commit-back: $* changed on $branch during this run, so the rebase conflicts; nothing was" \
      "pushed. Download the zoomstate-state artifact of this run and commit its files by hand." >&2
    exit 1
  fi
  if [ "$attempt" -lt "$attempts" ]; then
    sleep "$((delay * attempt))"
  fi
done
echo "::error::commit-back: could not push to $branch after $attempts attempts; the files are in the" \
  "zoomstate-state artifact of this run" >&2
exit 1
