#!/usr/bin/env bash
# Restores the newest backup into a scratch database, runs a sanity query, drops the
# scratch database and writes the outcome to a small JSON status file, atomically (a
# temporary file renamed into place), which the agent's backups collector reads:
#   {"status":"success","finished_at":"2024-05-01T03:31:12Z","backup":"assets_....dump",
#    "duration_seconds":42,"last_success_at":"2024-05-01T03:31:12Z"}
# A failure writes "status":"failure" and an "error", and keeps "last_success_at" from the
# previous status file, so the time of the last good test survives failed ones.
#
# Usage: restore-test.sh [--dir DIR] [--pattern GLOB] [--status-file FILE]
#                        [--scratch-db NAME] [--sanity-query SQL]
#                        [--password-file FILE] [--pg-bin DIR]
# Every option can also come from the environment (e.g. systemd's EnvironmentFile):
#   BACKUP_DIR            /var/backups/assets
#   BACKUP_PATTERN        assets_*; the newest matching file (by mtime) is restored; hidden,
#                         *.tmp and *.partial files are never picked
#   RESTORE_STATUS_FILE   DIR/restore-test.json
#   RESTORE_SCRATCH_DB    assets_restore_test; dropped and re-created for every test
#   RESTORE_SANITY_QUERY  SQL whose first value must be non-empty and not 0/f/false; default:
#                         the number of tables outside the system schemas
#   PGPASSWORD_FILE       file holding the password; default $CREDENTIALS_DIRECTORY/pgpassword
#   PG_BIN                directory of psql and pg_restore; default: found in PATH
# The connection comes from libpq's variables: PGHOST, PGPORT, PGUSER; the role needs
# CREATEDB. PGDATABASE (default postgres) is only used to create and drop the scratch
# database. The password goes into a private, temporary PGPASSFILE, never on a command line.
#
# Exit status: 0 when the test passed, 1 when it failed (the status file says why), 2 when
# even the status file could not be written or the arguments are wrong.
set -euo pipefail

backup_dir=${BACKUP_DIR:-/var/backups/assets}
pattern=${BACKUP_PATTERN:-assets_*}
status_file=${RESTORE_STATUS_FILE:-}
scratch_db=${RESTORE_SCRATCH_DB:-assets_restore_test}
sanity_query=${RESTORE_SANITY_QUERY:-"SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"}
password_file=${PGPASSWORD_FILE:-}
pg_bin=${PG_BIN:-}

usage() {
  sed -n '/^# Usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) backup_dir=${2:?--dir needs a value}; shift 2 ;;
    --pattern) pattern=${2:?--pattern needs a value}; shift 2 ;;
    --status-file) status_file=${2:?--status-file needs a value}; shift 2 ;;
    --scratch-db) scratch_db=${2:?--scratch-db needs a value}; shift 2 ;;
    --sanity-query) sanity_query=${2:?--sanity-query needs a value}; shift 2 ;;
    --password-file) password_file=${2:?--password-file needs a value}; shift 2 ;;
    --pg-bin) pg_bin=${2:?--pg-bin needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "restore-test: unknown argument: $1" >&2; usage ;;
  esac
done

log() { echo "restore-test: $*" >&2; }

status_file=${status_file:-$backup_dir/restore-test.json}
export PGDATABASE=${PGDATABASE:-postgres}
psql=${pg_bin:+$pg_bin/}psql
pg_restore=${pg_bin:+$pg_bin/}pg_restore
if [ -z "$password_file" ] && [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -f "$CREDENTIALS_DIRECTORY/pgpassword" ]; then
  password_file=$CREDENTIALS_DIRECTORY/pgpassword
fi
# The scratch database is dropped without asking: refuse names that could be real ones.
if ! [[ "$scratch_db" =~ ^[a-z0-9_]+$ ]] || [[ "$scratch_db" != *restore* ]] ||
   [ "$scratch_db" = "$PGDATABASE" ]; then
  log "error: --scratch-db must be lower-case letters, digits and _, contain 'restore' and differ from PGDATABASE"
  exit 2
fi

started=$(date +%s)
step="starting"
backup=""
created_scratch=false
status_written=false
private_dir=

json_string() {
  local text=$1
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  printf '"%s"' "$(printf '%s' "$text" | tr -d '\000-\037')"
}

# The last success recorded by the current status file, in the format this script writes.
previous_last_success() {
  [ -f "$status_file" ] || return 0
  local content
  content=$(head -c 65536 -- "$status_file" | tr -d '\n')
  local last
  last=$(sed -n 's/.*"last_success_at": *"\([^"]*\)".*/\1/p' <<<"$content")
  if [ -z "$last" ] && [[ "$content" =~ \"status\":\ *\"success\" ]]; then
    last=$(sed -n 's/.*"finished_at": *"\([^"]*\)".*/\1/p' <<<"$content")
  fi
  printf '%s' "$last"
}

write_status() {
  local outcome=$1 error=${2:-}
  local finished_at last_success duration directory temporary
  finished_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  duration=$(( $(date +%s) - started ))
  if [ "$outcome" = success ]; then
    last_success=$finished_at
  else
    last_success=$(previous_last_success)
  fi
  directory=$(dirname -- "$status_file")
  temporary=$(mktemp "$directory/.restore-test.XXXXXX") || return 1
  if ! {
    printf '{"status":"%s","finished_at":"%s","backup":%s,"duration_seconds":%d' \
      "$outcome" "$finished_at" "$(json_string "$(basename -- "${backup:-none}")")" "$duration"
    if [ -n "$last_success" ]; then printf ',"last_success_at":%s' "$(json_string "$last_success")"; fi
    if [ -n "$error" ]; then printf ',"error":%s' "$(json_string "$error")"; fi
    printf '}\n'
  } >"$temporary" || ! chmod 0644 "$temporary" || ! mv -f -- "$temporary" "$status_file"; then
    rm -f -- "$temporary"
    return 1
  fi
  status_written=true
}

drop_scratch() {
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" \
    "$psql" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$scratch_db\" WITH (FORCE)" >/dev/null
}

on_exit() {
  local code=$?
  if [ "$created_scratch" = true ]; then drop_scratch || log "warning: could not drop $scratch_db"; fi
  if [ -n "$private_dir" ]; then rm -rf -- "$private_dir"; fi
  if [ "$status_written" = false ]; then
    if write_status failure "failed while $step"; then code=1; else code=2; fi
    log "failed while $step"
  fi
  exit "$code"
}
trap on_exit EXIT

fail() {
  log "error: $1"
  write_status failure "$1" || exit 2
  exit 1
}

if [ -n "$password_file" ]; then
  step="reading the password file"
  [ -r "$password_file" ] || fail "cannot read the password file"
  private_dir=$(mktemp -d)
  chmod 700 "$private_dir"
  password=$(<"$password_file")
  password=${password//\\/\\\\}
  password=${password//:/\\:}
  (umask 077; printf '*:*:*:*:%s\n' "$password" >"$private_dir/pgpass")
  unset password
  export PGPASSFILE=$private_dir/pgpass
  unset PGPASSWORD
fi

step="finding the newest backup"
backup=$(find "$backup_dir" -maxdepth 1 -type f -name "$pattern" ! -name '.*' ! -name '*.tmp' ! -name '*.partial' \
           -printf '%T@\t%p\0' | sort -z -n | tail -z -n 1 | cut -z -f 2- | tr -d '\0')
[ -n "$backup" ] || fail "no backup matching $pattern in $backup_dir"
log "restoring $backup into $scratch_db"

case "$backup" in
  *.sql) format=plain ;;
  *.gz|*.gzip) format=gzip ;;
  *.dump|*.backup|*.pgdump) format=custom ;;
  *)
    case "$(head -c 5 -- "$backup" | tr -d '\0')" in
      PGDMP) format=custom ;;
      $'\x1f\x8b'*) format=gzip ;;
      *) format=plain ;;
    esac
    ;;
esac

step="creating the scratch database"
drop_scratch || fail "could not drop an old scratch database $scratch_db"
created_scratch=true
"$psql" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$scratch_db\"" >/dev/null ||
  fail "could not create the scratch database $scratch_db"

step="restoring"
case "$format" in
  custom)
    "$pg_restore" --exit-on-error --no-owner --no-privileges --dbname="$scratch_db" -- "$backup" ||
      fail "pg_restore failed on $(basename -- "$backup")"
    ;;
  gzip)
    gzip -dc -- "$backup" | "$psql" -X -q -v ON_ERROR_STOP=1 --dbname="$scratch_db" >/dev/null ||
      fail "restoring the gzip'd SQL of $(basename -- "$backup") failed"
    ;;
  plain)
    "$psql" -X -q -v ON_ERROR_STOP=1 --dbname="$scratch_db" --file="$backup" >/dev/null ||
      fail "restoring the SQL of $(basename -- "$backup") failed"
    ;;
esac

step="running the sanity query"
answer=$("$psql" -X -q -A -t -v ON_ERROR_STOP=1 --dbname="$scratch_db" -c "$sanity_query") ||
  fail "the sanity query failed"
answer=${answer%%$'\n'*}
case "$answer" in
  ""|0|f|false) fail "the sanity query returned '${answer}'" ;;
esac

step="dropping the scratch database"
drop_scratch || fail "could not drop the scratch database $scratch_db"
created_scratch=false

step="writing the status file"
write_status success || { log "error: cannot write $status_file"; exit 2; }
log "restore test passed: $(basename -- "$backup") (sanity query: $answer)"
