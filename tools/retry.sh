#!/usr/bin/env bash
# Usage: tools/retry.sh ATTEMPTS COMMAND [ARG...]
# Runs COMMAND up to ATTEMPTS times, 20 s apart, for downloads over a network that drops
# connections (a 430 MB bpy wheel broke off at 424 MB in CI, six resumes in a row). Exits with the
# last attempt's status, so a command that is simply wrong still fails loudly, only later.
set -uo pipefail
attempts=$1
shift
for ((attempt = 1; ; attempt++)); do
  "$@" && exit 0
  status=$?
  if ((attempt >= attempts)); then
    echo "retry.sh: giving up after $attempt attempts (exit $status): $*" >&2
    exit "$status"
  fi
  echo "retry.sh: attempt $attempt of $attempts failed (exit $status); again in 20 s: $*" >&2
  sleep 20
done
