#!/usr/bin/env bash
# The bash completion (completions/bulkwarden) completes subcommands, options and values.
set -uo pipefail
file=${1:?usage: completion_test.sh completions/bulkwarden [BINARY]}
binary=${2:-}
failed=0
complete_line() {  # prints what completing the last word of "$@" offers
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _bulkwarden; echo "${COMPREPLY[*]}"' _ "$file" "$@"
}
expect() {  # expect "offered" word...
  local want=$1; shift
  local got; got=$(complete_line "$@")
  if [ "$got" != "$want" ]; then
    echo "FAIL: completing '$*': got '$got', want '$want'"; failed=1
  else
    echo "ok: '$*' -> '$got'"
  fi
}
expect "run validate plan audit schedule demo sim" bulkwarden ""
expect "audit" bulkwarden au
expect "verify accept show summary" bulkwarden audit ""
expect "show summary" bulkwarden audit s
expect "--config --job --policy --org --since --outcome --format --help" bulkwarden audit show --
expect "--config --since --format --help" bulkwarden audit summary --
expect "applied already-terminal" bulkwarden audit show --outcome a
expect "text json" bulkwarden audit show --format ""
expect "table json" bulkwarden plan --format ""
expect "--config --policy --org --format --detailed-exitcode --log-level --help" bulkwarden plan --
expect "--detailed-exitcode" bulkwarden plan --policy abort-stuck --d
expect "plan" bulkwarden --config /etc/bulkwarden/bulkwarden.yaml pl
expect "--dry-run" bulkwarden run --d
expect "debug" bulkwarden --log-level de
expect "not-found not-started not-permitted not-applied not-sent" bulkwarden audit show --outcome not-
# Against the binary's own help: every option of `sim` and every outcome `audit show` takes is
# offered, and nothing else (a new option or outcome fails here until the completion has it).
if [ -n "$binary" ]; then
  words() { tr ' ,' '\n\n' | grep -E "$1" | sort -u | tr '\n' ' '; }
  want=$("$binary" sim --help 2>&1 | grep -oE '(^|[ ,[])--[a-z0-9][a-z0-9-]*' | sed 's/^[ ,[]//' | words '^--')
  got=$(complete_line bulkwarden sim -- | words '^--')
  if [ "$got" != "$want" ]; then
    echo "FAIL: sim options: completion offers '$got', sim --help has '$want'"; failed=1
  else
    echo "ok: sim options match sim --help"
  fi
  want=$("$binary" audit show --help 2>&1 | sed -n '/--outcome:/,/^  bulkwarden/p' |
    sed -e 's/.*--outcome://' -e 's/([^)]*)//g' -e '/^  bulkwarden/d' | words '^[a-z][a-z-]*$')
  got=$(complete_line bulkwarden audit show --outcome "" | words '^[a-z][a-z-]*$')
  if [ -z "$want" ] || [ "$got" != "$want" ]; then
    echo "FAIL: outcomes: completion offers '$got', audit show --help has '$want'"; failed=1
  else
    echo "ok: outcomes match audit show --help"
  fi
fi
exit $failed
