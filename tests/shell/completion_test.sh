#!/usr/bin/env bash
# The bash completion (completions/bulkwarden) completes subcommands, options and values.
set -uo pipefail
file=${1:?usage: completion_test.sh completions/bulkwarden}
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
exit $failed
