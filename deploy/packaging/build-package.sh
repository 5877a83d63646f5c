#!/usr/bin/env bash
# Builds the Debian package from debian/ with dpkg-buildpackage, then runs lintian on it:
#   deploy/packaging/build-package.sh OUTPUT_DIR     (what `make package` runs)
# The source is copied first (the files git knows, committed or not), so the build never
# writes into the working tree and dpkg-buildpackage's outputs land in OUTPUT_DIR.
# RUNBOOK_BASE_URL, when set, is where the installed alerts' runbook_url points;
# JOB_SELECTOR, when set, the label matchers of the agent's scrape job in the installed
# rules and dashboards (docs/scaling.md).
# Exits non-zero when the build fails or lintian reports an error or a warning.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:?usage: build-package.sh OUTPUT_DIR}" && cd "$1" && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
revision=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# A package built from uncommitted changes says so in --version.
if [ "$revision" != unknown ] && ! git -C "$src" diff --quiet HEAD -- 2>/dev/null; then revision="$revision-dirty"; fi

work="$out/src"
tree="$work/assets-agent-$version"
rm -rf "$work"
mkdir -p "$tree"
# --ignore-failed-read: a file deleted in the working tree but not yet in git.
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
  tar --null --ignore-failed-read --warning=no-failed-read -T - -cf -) | tar -C "$tree" -xf -
rm -f "$out"/assets-agent_* "$out"/assets-agent-dbgsym_*

(cd "$tree" &&
  ASSETS_REVISION="$revision" RUNBOOK_BASE_URL="${RUNBOOK_BASE_URL:-}" JOB_SELECTOR="${JOB_SELECTOR:-}" \
  dpkg-buildpackage -b -us -uc >"$out/build.log" 2>&1) ||
  { tail -40 "$out/build.log" >&2; echo "package build failed; the whole log: $out/build.log" >&2; exit 1; }
# assets-agent-dbgsym_* only when debug symbols were split (not with DEB_BUILD_OPTIONS=noautodbgsym).
for built in "$work"/assets-agent_* "$work"/assets-agent-dbgsym_*; do
  [ -e "$built" ] && mv "$built" "$out"/
done
rm -rf "$work"

changes=$(ls "$out"/assets-agent_"$version"_*.changes)
echo "lintian $(lintian --version | cut -d' ' -f2) on $(basename "$changes"):"
lintian --info --fail-on error,warning "$changes"
ls -l "$out"/assets-agent_"$version"_*.deb
