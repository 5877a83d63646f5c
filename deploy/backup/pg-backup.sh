#!/usr/bin/env bash
# Dumps the Assets PostgreSQL database with pg_dump, then prunes dumps older than the
# retention. The dump is written under a hidden temporary name and renamed into place
# only once pg_dump succeeded and the file checks out, so a reader (the agent's backups
# collector) never sees a partial dump under a final name.
#
# Usage: pg-backup.sh [--dir DIR] [--format custom|gzip|plain] [--prefix NAME]
#                     [--retention-days N] [--password-file FILE] [--pg-bin DIR]
# Every option can also come from the environment (e.g. systemd's EnvironmentFile):
#   BACKUP_DIR             /var/backups/assets
#   BACKUP_FORMAT          custom: pg_dump -Fc (.dump); gzip: plain SQL through gzip (.sql.gz);
#                          plain: plain SQL (.sql)
#   BACKUP_PREFIX          assets; files are PREFIX_YYYY-MM-DDTHHMMSSZ.EXT (UTC)
#   BACKUP_RETENTION_DAYS  30; dumps of this prefix older than this are deleted (0: keep all)
#   PGPASSWORD_FILE        file holding the database password (a Docker secret); default
#                          $CREDENTIALS_DIRECTORY/pgpassword when systemd's LoadCredential gives one
#   PG_BIN                 directory of pg_dump and pg_restore; default: found in PATH
# The connection comes from libpq's variables: PGHOST, PGPORT, PGUSER, PGDATABASE (default assets).
# The password never appears on a command line or in the environment: it goes into a
# private, temporary PGPASSFILE that is removed on exit.
#
# Exit status: 0 when the new dump is in place (and pruning ran); non-zero on any failure,
# in which case no new file appears and nothing is pruned.
set -euo pipefail

backup_dir=${BACKUP_DIR:-/var/backups/assets}
backup_format=${BACKUP_FORMAT:-custom}
prefix=${BACKUP_PREFIX:-assets}
retention_days=${BACKUP_RETENTION_DAYS:-30}
password_file=${PGPASSWORD_FILE:-}
pg_bin=${PG_BIN:-}

usage() {
  sed -n '/^# Usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) backup_dir=${2:?--dir needs a value}; shift 2 ;;
    --format) backup_format=${2:?--format needs a value}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
    --retention-days) retention_days=${2:?--retention-days needs a value}; shift 2 ;;
    --password-file) password_file=${2:?--password-file needs a value}; shift 2 ;;
    --pg-bin) pg_bin=${2:?--pg-bin needs a value}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "pg-backup: unknown argument: $1" >&2; usage ;;
  esac
done

log() { echo "pg-backup: $*" >&2; }
die() { log "error: $*"; exit 1; }

case "$backup_format" in
  custom) extension=dump ;;
  gzip) extension=sql.gz ;;
  plain) extension=sql ;;
  *) die "--format must be custom, gzip or plain, not '$backup_format'" ;;
esac
[[ "$retention_days" =~ ^[0-9]+$ ]] || die "--retention-days must be a whole number of days"
[[ "$prefix" =~ ^[A-Za-z0-9._-]+$ ]] || die "--prefix may only hold letters, digits, '.', '_' and '-'"
[ -d "$backup_dir" ] || die "backup directory $backup_dir does not exist"
if [ -z "$password_file" ] && [ -n "${CREDENTIALS_DIRECTORY:-}" ] && [ -f "$CREDENTIALS_DIRECTORY/pgpassword" ]; then
  password_file=$CREDENTIALS_DIRECTORY/pgpassword
fi
pg_dump=${pg_bin:+$pg_bin/}pg_dump
pg_restore=${pg_bin:+$pg_bin/}pg_restore
export PGDATABASE=${PGDATABASE:-assets}
# Dumps are for the backup group (the agent reads them), never for everyone.
umask 027

private_dir=
partial=
cleanup() {
  if [ -n "$partial" ]; then rm -f -- "$partial"; fi
  if [ -n "$private_dir" ]; then rm -rf -- "$private_dir"; fi
}
trap cleanup EXIT

if [ -n "$password_file" ]; then
  [ -r "$password_file" ] || die "cannot read the password file $password_file"
  private_dir=$(mktemp -d)
  chmod 700 "$private_dir"
  password=$(<"$password_file")
  # .pgpass syntax: host:port:database:user:password, with \ and : escaped.
  password=${password//\\/\\\\}
  password=${password//:/\\:}
  (umask 077; printf '*:*:*:*:%s\n' "$password" >"$private_dir/pgpass")
  unset password
  export PGPASSFILE=$private_dir/pgpass
  unset PGPASSWORD
fi

name="${prefix}_$(date -u +%Y-%m-%dT%H%M%SZ).${extension}"
target="$backup_dir/$name"
partial="$backup_dir/.$name.partial"
[ ! -e "$target" ] || die "$target already exists"

log "dumping database ${PGDATABASE} to $target (format $backup_format)"
case "$backup_format" in
  custom) "$pg_dump" --format=custom --file="$partial" ;;
  gzip) "$pg_dump" --format=plain | gzip -c >"$partial" ;;
  plain) "$pg_dump" --format=plain --file="$partial" ;;
esac

case "$backup_format" in
  custom) "$pg_restore" --list "$partial" >/dev/null || die "pg_restore cannot read the new dump" ;;
  gzip) gzip -t "$partial" || die "the new dump is not a valid gzip file" ;;
  plain)
    trailer=$(tail -c 4096 "$partial")
    [[ "$trailer" == *"-- PostgreSQL database dump complete"* ]] || die "the new dump has no completion trailer"
    ;;
esac

sync -- "$partial"
mv -f -- "$partial" "$target"
partial=
sync -- "$backup_dir"
log "wrote $target ($(stat -c %s -- "$target") bytes)"

if [ "$retention_days" -gt 0 ]; then
  # Keep exactly the window: a dump is deleted once its age reaches the retention.
  cutoff=$(( $(date +%s) - retention_days * 86400 ))
  while IFS= read -r -d '' old; do
    rm -f -- "$old"
    log "pruned $old (older than $retention_days days)"
  done < <(find "$backup_dir" -maxdepth 1 -type f -name "${prefix}_*" ! -name '.*' \
             \( -name '*.dump' -o -name '*.sql.gz' -o -name '*.sql' \) ! -newermt "@$cutoff" -print0)
  # Leftovers of runs that were killed before they could clean up.
  find "$backup_dir" -maxdepth 1 -type f -name ".${prefix}_*.partial" -mmin +1440 -delete
fi
