#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# gen-core.sh - writes the ktask core patch of the kernel series from the
# project's own sources, so that the kernel tree and ktask.ko build the same
# code and there is one copy of the core.
#
#   usage: kernel/series/gen-core.sh            rewrite the patch
#          kernel/series/gen-core.sh --check    fail if the committed patch
#                                               differs from what the
#                                               sources give
#          kernel/series/gen-core.sh -o FILE    write it to FILE
#
# The new files of the patch are the sources, with only conditionals and
# include lines rewritten (unifdef for __KERNEL__, MODULE and the debug
# builds; an exact, counted line rewrite for the rest):
#
#   include/linux/ktask.h          <- include/ktask.h (KTASK_FALLBACK becomes
#                                     !CONFIG_KTASK)
#   kernel/ktask/core.c            <- lib/ktask.c
#   kernel/ktask/ktask_core.h      <- lib/ktask_core.h
#   kernel/ktask/platform.h        <- lib/platform.h
#   kernel/ktask/plat_kernel.h     <- kernel/plat_kernel.h
#   kernel/ktask/plat_kernel.c     <- kernel/plat_kernel.c
#   kernel/ktask/ktask_test.c      <- kernel/ktask_test.c     (CONFIG_KTASK_TEST:
#   kernel/ktask/ktask_torture.c   <- kernel/ktask_torture.c   the test modules,
#   kernel/ktask/ktask_clear.c     <- kernel/ktask_clear.c     the exports' users)
#   kernel/ktask/Makefile          <- kernel/series/core/Makefile
#   Documentation/core-api/ktask.rst <- kernel/series/core/ktask.rst
#
# and the hooks into existing files (init/Kconfig, init/main.c,
# kernel/Makefile, MAINTAINERS, the core-api index) are
# kernel/series/core/hooks.diff.
# The commit message is kernel/series/core/message.  The output depends on
# nothing but these files: no dates, fixed labels.  Needs git and unifdef.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
in=$here/core
patch=$here/0001-ktask-a-framework-to-parallelize-large-CPU-intensive-tasks.patch
check=0
out=$patch

die() { echo "gen-core: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--check) check=1 ;;
	-o) [ $# -ge 2 ] || die "-o needs a file"; out=$2; shift ;;
	*) die "usage: $0 [--check] [-o FILE]" ;;
	esac
	shift
done
command -v unifdef >/dev/null ||
	die "unifdef is missing (apt-get install unifdef)"
command -v git >/dev/null || die "git is missing"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
new=$tmp/new
mkdir -p "$new/include/linux" "$new/kernel/ktask" "$new/Documentation/core-api"

# unifdef SRC DST [options]: resolve the conditionals the kernel tree never
# needs.  __KERNEL__ is always defined there, MODULE never (ktask is bool),
# and the userland-only and debug-yield parts go.
resolve() {
	src=$1 dst=$2
	shift 2
	unifdef -x2 -D__KERNEL__ -UMODULE -U__cplusplus -UKTASK_DEBUG_YIELD \
		"$@" -o "$dst.tmp" "$src" ||
		die "unifdef failed on $src"
	# What a removed block leaves: runs of blank lines, squeezed to one.
	cat -s "$dst.tmp" >"$dst"
	rm -f "$dst.tmp"
}

# line FILE OLD NEW [COUNT]: replace the lines that are exactly OLD by NEW;
# fail unless exactly COUNT (default 1) lines matched, so that a change in
# the sources cannot silently leave a line unrewritten.
line() {
	f=$1 old=$2 repl=$3 want=${4:-1}
	awk -v old="$old" -v repl="$repl" -v want="$want" -v f="$f" '
		$0 == old { $0 = repl; n++ }
		{ print }
		END {
			if (n != want) {
				printf "gen-core: %s: %d lines \"%s\", expected %d\n", f, n, old, want > "/dev/stderr"
				exit 1
			}
		}' "$f" >"$f.tmp" || exit 1
	mv "$f.tmp" "$f"
}

h=$new/include/linux/ktask.h
resolve "$top/include/ktask.h" "$h" -DNUMA_NO_NODE
line "$h" "#ifndef KTASK_H" "#ifndef _LINUX_KTASK_H"
line "$h" "#define KTASK_H" "#define _LINUX_KTASK_H"
line "$h" "#endif /* KTASK_H */" "#endif /* _LINUX_KTASK_H */"
line "$h" "#ifndef KTASK_FALLBACK" "#ifdef CONFIG_KTASK"
line "$h" "#else /* KTASK_FALLBACK */" "#else /* !CONFIG_KTASK */"
line "$h" "#endif /* KTASK_FALLBACK */" "#endif /* CONFIG_KTASK */"

k=$new/kernel/ktask
resolve "$top/lib/ktask.c" "$k/core.c"
resolve "$top/lib/ktask_core.h" "$k/ktask_core.h"
resolve "$top/lib/platform.h" "$k/platform.h"
line "$k/platform.h" '#include "ktask.h"' '#include <linux/ktask.h>'
resolve "$top/kernel/plat_kernel.h" "$k/plat_kernel.h"
resolve "$top/kernel/plat_kernel.c" "$k/plat_kernel.c"
line "$k/plat_kernel.c" '#include "../lib/ktask_core.h"' '#include "ktask_core.h"'
for t in ktask_test ktask_torture ktask_clear; do
	resolve "$top/kernel/$t.c" "$k/$t.c"
	line "$k/$t.c" '#include "ktask.h"' '#include <linux/ktask.h>'
done
cp "$in/Makefile" "$k/Makefile"
cp "$in/ktask.rst" "$new/Documentation/core-api/ktask.rst"

# Nothing of the userland home or of another tree may be left.
if grep -n -E '^#.*(plat_user|stddef\.h|__cplusplus|"\.\./|KTASK_FALLBACK|KTASK_DEBUG_YIELD|MODULE)' \
	"$h" "$k"/*; then
	die "the lines above still refer to userland, a module or the repo layout"
fi
grep -q '^void __init ktask_boot_init(void)$' "$k/plat_kernel.c" ||
	die "kernel/plat_kernel.c has no built-in ktask_boot_init() (#ifndef MODULE)"

# The patch: message, the hooks, then every new file in path order.
{
	cat "$in/message"
	echo "---"
	cat "$in/hooks.diff"
	(cd "$new" && find . -type f | sed 's|^\./||' | LC_ALL=C sort) |
	while read -r f; do
		chmod 644 "$new/$f"
		# Exit status 1 means "files differ"; no user or system git
		# configuration may change the output.
		(cd "$new" && HOME=$tmp XDG_CONFIG_HOME=$tmp GIT_CONFIG_NOSYSTEM=1 \
			git -c core.quotepath=off diff --no-index --no-color \
			--no-ext-diff --full-index --src-prefix=a/ --dst-prefix=b/ \
			-- /dev/null "$f") || [ $? = 1 ] || die "git diff failed on $f"
	done
	echo "-- "
	echo "ktask project"
} >"$tmp/patch"

if [ $check = 1 ]; then
	if ! cmp -s "$tmp/patch" "$out"; then
		diff -u "$out" "$tmp/patch" | head -40 >&2 || :
		die "$out differs from what the sources give: run $0 and commit it"
	fi
	echo "gen-core: $(basename "$out") is up to date"
else
	cp "$tmp/patch" "$out"
	echo "gen-core: wrote $out"
fi
