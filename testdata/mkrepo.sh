#!/usr/bin/env bash
# mkrepo.sh regenerates testdata/repo: the 17 RPMs that `dnf install coreutils`
# picks from the shared test-bed repository, plus createrepo_c metadata.
#
# Usage (from anywhere):
#     testdata/mkrepo.sh                 # SHARED defaults to <repo root>/../shared
#     SHARED=/path/to/shared testdata/mkrepo.sh
#
# Needs: createrepo_c (Debian: createrepo-c). The output is reproducible: the
# RPMs' mtimes (which primary.xml records as <time file=...>) and every
# timestamp in repomd.xml are pinned to REVISION, sqlite databases (not
# byte-stable) are not generated, and one worker reads the packages. Running
# the script twice gives the same bytes, so `git status` stays clean.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$here/../.." && pwd)/shared}
src=$SHARED/testdata/distro/repo/Packages
out=$here/repo
# 2023-11-14T22:13:20Z; also used as the repomd <revision>.
REVISION=${REVISION:-1700000000}

pkgs=(
	b/basesystem-11-13.el9.noarch.rpm
	b/bash-5.2.15-3.el9.x86_64.rpm
	b/bash-completion-2.11-5.el9.noarch.rpm
	c/coreutils-9.1-12.el9.x86_64.rpm
	c/coreutils-common-9.1-12.el9.x86_64.rpm
	f/filesystem-3.16-2.el9.x86_64.rpm
	g/glibc-2.36-9.el9.x86_64.rpm
	g/glibc-common-2.36-9.el9.x86_64.rpm
	g/glibc-langpack-en-2.36-9.el9.x86_64.rpm
	g/gmp-6.2.1-2.el9.x86_64.rpm
	l/libacl-2.3.1-3.el9.x86_64.rpm
	l/libattr-2.5.1-4.el9.x86_64.rpm
	l/libselinux-3.4-1.el9.x86_64.rpm
	n/ncurses-base-6.4-4.el9.noarch.rpm
	n/ncurses-libs-6.4-4.el9.x86_64.rpm
	p/pcre2-10.42-1.el9.x86_64.rpm
	s/setup-2.13.7-9.el9.noarch.rpm
)

if [ ! -d "$src" ]; then
	echo "mkrepo.sh: $src not found (set SHARED)" >&2
	exit 1
fi
command -v createrepo_c >/dev/null || {
	echo "mkrepo.sh: createrepo_c not found (apt-get install createrepo-c)" >&2
	exit 1
}

rm -rf "$out"
mkdir -p "$out/Packages"
for p in "${pkgs[@]}"; do
	cp "$src/$p" "$out/Packages/"
done
chmod 0644 "$out"/Packages/*.rpm
touch -d "@$REVISION" "$out"/Packages/*.rpm

createrepo_c --quiet --no-database --workers 1 --checksum sha256 \
	--revision "$REVISION" --set-timestamp-to-revision \
	--unique-md-filenames --compress-type gz "$out"

# The repodata directory's own mtime does not matter to git, but keep the
# tree tidy for rsync-style comparisons.
touch -d "@$REVISION" "$out/repodata" "$out/Packages" "$out"
echo "mkrepo.sh: wrote $out ($(ls "$out/Packages" | wc -l) packages)"
