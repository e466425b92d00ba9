#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# run.sh - builds Linux 6.12 (Debian's linux-source-6.12) with the ktask
# series twice, with CONFIG_KTASK=y and with CONFIG_KTASK=n, and once
# without the series (plain 6.12), boots each in QEMU (TCG, 4 vCPUs on 2
# NUMA nodes, 1 GiB and 2 MiB huge pages, lockdep, panic_on_warn=1) and
# runs the tests in the guest.  See docs/kernel.md.
#
#   usage: kernel/series/run.sh [userland-test-executable...]
#
# In the CONFIG_KTASK=y guest: a check of /sys/module/ktask, the ktask
# selftests, clearing client and torture test (kernel/ktask_test.c,
# ktask_clear.c, ktask_torture.c, built as modules against the new tree),
# the userland test executables given (as kernel/test-qemu.sh runs them),
# and every program kernel/series/guest/*.c.  In the CONFIG_KTASK=n guest:
# the sysfs check and the guest programs.  The CONFIG_KTASK=y kernel boots
# a second time with ktask.fail_init=1 (ktask_init() fails): it must boot,
# run its boot-time tasks in their callers and clear memory with
# ktask_clear.ko.
#
# Peer suites (kernel/series/peer/*.sh), on every kernel, after the guest
# programs: libhugetlbfs's regression tests (built with
# ../shared/peer/libhugetlbfs/build.sh, beside the clone; skipped with a
# message where that is absent) and the mm selftests' hugetlb set
# ("run_vmtests.sh -t hugetlb", built statically from the kernel tree).
# Their results are judged against plain 6.12's: a test that passes there
# and fails (or is skipped) with the series is a failure; one that fails
# on plain 6.12 too is printed and not counted.  The plain kernel's results
# are kept ($KTASK_SERIES_DIR/kernels/peer-results-plain) for runs
# without it; with none, every peer failure counts.
#
# Contract with the guest programs (kernel/series/guest/*.c): each is
# built on the host with "gcc -O2 -static -Wall -pthread ... -lm" and run
# in the guest as root, from /tmp (a tmpfs), under a timeout, with
# KTASK_KERNEL set to y or n.  hugetlbfs is mounted at /dev/hugepages (2 MiB pages) and
# /dev/hugepages1G (1 GiB pages).  It prints one KTAP document on stdout:
# "KTAP version 1", a plan "1..N", "ok N desc" / "not ok N desc" lines and
# "# " comments; nested (indented) lines are shown but not counted.  Each
# result counts as one pass or fail; a missing plan, a plan that does not
# match the results or a nonzero exit status is one more failure.
#
# The verdict comes from the serial console only, never from QEMU's exit
# code: every KTAP document complete, no "WARNING:", "BUG:", "Oops", panic,
# lockdep or ODEBUG report, and the guest's end marker reached.  The last
# line is "series: N passed, N failed"; the exit status is 1 on a failure.
#
# Environment:
#   KTASK_SERIES_DIR      build directory, outside the clone
#                         (default /var/cache/ktask-series as root,
#                         else ${XDG_CACHE_HOME:-~/.cache}/ktask-series)
#   CCACHE_DIR            ccache directory (default /var/cache/ktask-ccache
#                         as root, else ${XDG_CACHE_HOME:-~/.cache}/ktask-ccache)
#   KTASK_SERIES_UPTO     apply the series only up to this patch file name
#   KTASK_SERIES_KERNELS  which kernels, "plain y n perf" (default), or some
#                         of them; plain is Linux 6.12 without the series,
#                         perf the y kernel with perf.config (lock
#                         debugging off), which measures: its boots run the
#                         guest programs and the VFIO program's timed maps
#   KTASK_SERIES_FAIL_INIT  0: no ktask.fail_init=1 boot of the y kernel
#   KTASK_SERIES_PEERS    0: no peer suites
#   KTASK_SERIES_CONFIG   more config fragments (files, space-separated),
#                         merged after guest.config and checked the same
#                         way, e.g. kernel/series/kasan.config
#   KTASK_SERIES_BUILD    0: boot the kernels kept by an earlier run
#                         (in $KTASK_SERIES_DIR/kernels) without building
#   KTASK_SERIES_JOBS     make -j (default: nproc)
#   KTASK_SERIES_TIMEOUT  seconds for one VM run (default 1800)
#   KTASK_SERIES_PROG_TIMEOUT  seconds per guest program or test (600)
#   KTASK_SERIES_APT      0: do not install packages
#   KTASK_SERIES_RATIOS   info (default): the guest programs print their
#                         speed ratios without judging them; check: judge
#                         them against the targets (for a measuring run,
#                         with KTASK_SERIES_CONFIG=kernel/series/perf.config)
#   KTASK_SERIES_QEMU_ARGS  more QEMU arguments; KTASK_SERIES_CMDLINE: more
#                         kernel command line
#   KTASK_SERIES_VFIO     1 (default): after the boots above, boot each
#                         kernel once more as a q35 machine with an
#                         emulated VT-d and QEMU's edu device and run only
#                         kernel/series/guest-vfio/*.c (see run_vfio);
#                         0: do not; only: that boot alone
#   KTASK_SERIES_VFIO_QUICK  1: the VFIO boots check the undo only; 0:
#                         they time the maps too; default: only the perf
#                         kernel times them (the lock-debugging kernels'
#                         ratios say little, and the maps take minutes)
#   KTASK_SERIES_VFIO_TIMEOUT  seconds for each program of that boot (1800:
#                         it maps 2 GiB about thirty times, which takes
#                         15 minutes in TCG on a busy 2-core host); the
#                         VM gets 300 s more
# The kernels are kept as $KTASK_SERIES_DIR/kernels/bzImage-ktask-{y,n}
# and bzImage-plain (with their .config), the serial logs as
# .../logs/serial-ktask-{y,n}.log; with KTASK_SERIES_UPTO=0001-..., as
# bzImage-ktask-{y,n}-upto-0001 etc.  The plain kernel does not depend on
# the series: it is rebuilt only when the source package or the config
# fragments change (a stamp beside it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
	cachebase=/var/cache
else
	cachebase=${XDG_CACHE_HOME:-$HOME/.cache}
fi
dir=${KTASK_SERIES_DIR:-$cachebase/ktask-series}
export CCACHE_DIR=${CCACHE_DIR:-$cachebase/ktask-ccache}
upto=${KTASK_SERIES_UPTO:-}
kernels=${KTASK_SERIES_KERNELS:-plain y n perf}
fail_init=${KTASK_SERIES_FAIL_INIT:-1}
peers=${KTASK_SERIES_PEERS:-1}
build=${KTASK_SERIES_BUILD:-1}
jobs=${KTASK_SERIES_JOBS:-$(nproc)}
vm_timeout=${KTASK_SERIES_TIMEOUT:-1800}
prog_timeout=${KTASK_SERIES_PROG_TIMEOUT:-600}
ratios=${KTASK_SERIES_RATIOS:-info}
case $ratios in info|check) ;; *) echo "run.sh: KTASK_SERIES_RATIOS must be info or check" >&2; exit 2 ;; esac
source_tar=/usr/src/linux-source-6.12.tar.xz

say() { echo "series: $*" >&2; }
die() { say "$*"; echo "series: 0 passed, 1 failed"; exit 1; }

for t in "$@"; do
	[ -f "$t" ] && [ -x "$t" ] || die "not an executable file: $t"
done
case $dir in "$top"|"$top"/*) die "KTASK_SERIES_DIR must be outside the clone" ;; esac

# --- Packages -------------------------------------------------------------
if [ "${KTASK_SERIES_APT:-1}" = 1 ]; then
	missing=()
	for p in linux-source-6.12 gcc libc6-dev make bc bison flex libelf-dev libssl-dev \
		 ccache xz-utils cpio busybox-static qemu-system-x86 patch \
		 libhugetlbfs-dev bash-static; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o DPkg::Lock::Timeout=600 update -qq ||
			die "apt-get update failed"
		apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends "${missing[@]}" >/dev/null ||
			die "apt-get install ${missing[*]} failed"
	fi
fi

# --- The series -----------------------------------------------------------
patches=()
while read -r p _; do
	case $p in ''|'#'*) continue ;; esac
	[ -f "$here/$p" ] || die "series names $p, which is not in $here"
	patches+=("$p")
	[ "$p" = "$upto" ] && break
done <"$here/series"
if [ -n "$upto" ] && [ "${patches[${#patches[@]}-1]}" != "$upto" ]; then
	die "KTASK_SERIES_UPTO=$upto is not in $here/series"
fi
say "patches: ${patches[*]}"

mkdir -p "$dir/kernels" "$dir/logs" "$CCACHE_DIR"
# What the kept kernels and logs are called: ktask-y, ktask-n, or with
# KTASK_SERIES_UPTO=0001-... ktask-y-upto-0001, so that a partial series
# does not replace the kernels of the whole one.
name() {
	case $1 in
	plain) echo plain ;;
	yf) echo "ktask-y${upto:+-upto-${upto%%-*}}-fail-init" ;;
	perf) echo "ktask-y${upto:+-upto-${upto%%-*}}-perf" ;;
	*) echo "ktask-$1${upto:+-upto-${upto%%-*}}" ;;
	esac
}
# The kernel a boot uses: the fail-init boot uses the y kernel.
kname() { case $1 in yf) name y ;; *) name "$1" ;; esac; }
# How the results name a boot.
label() {
	case $1 in
	plain) echo "plain" ;;
	yf) echo "ktask=y fail_init" ;;
	perf) echo "ktask=y perf" ;;
	*) echo "ktask=$1" ;;
	esac
}
work=$(mktemp -d "$dir/run.XXXXXX")
trap 'rm -rf "$work"' EXIT

fragments=("$here/guest.config" "$here/vfio.config")
for f in ${KTASK_SERIES_CONFIG:-}; do
	[ -f "$f" ] || die "KTASK_SERIES_CONFIG: no file $f"
	fragments+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done

# kfrags KTASK: the fragments of that kernel (the perf kernel's end with
# perf.config), in the array frags.
kfrags() {
	frags=("${fragments[@]}")
	[ "$1" = perf ] && frags+=("$here/perf.config")
	return 0
}

# check_config TREE KTASK: every symbol the fragments set, set in .config
# (a later fragment's "# CONFIG_X is not set" or value overrides an earlier
# one's, as merge_config.sh does).
check_config() {
	local tree=$1 want_ktask=$2 line sym frags
	kfrags "$want_ktask"
	sed -nE 's/^(CONFIG_[A-Za-z0-9_]+)=.*/\1 &/p; s/^# (CONFIG_[A-Za-z0-9_]+) is not set/\1 &/p' \
		"${frags[@]}" | awk '{ last[$1] = $0 } END { for (s in last) print last[s] }' |
		sed 's/^[^ ]* //' | while read -r line; do
		case $line in CONFIG_*=*) ;; *) continue ;; esac
		sym=${line%%=*}
		[ "$sym" = CONFIG_KTASK ] && [ "$want_ktask" = n ] &&
			line="# CONFIG_KTASK is not set"
		# What depends on KTASK is absent without it.
		[ "$sym" != CONFIG_KTASK ] && [ "$want_ktask" = n ] &&
			case $sym in CONFIG_KTASK_*) true ;; *) false ;; esac && continue
		case $sym in CONFIG_KTASK*) [ "$want_ktask" = plain ] && continue ;; esac
		if ! grep -qxF "$line" "$tree/.config"; then
			say "config: wanted \"$line\", got \"$(grep -E "^$sym=|^# $sym is not set" "$tree/.config" || echo "$sym missing")\""
			echo bad
		fi
	done >"$work/config-check-$want_ktask"
	grep -q bad "$work/config-check-$want_ktask" &&
		die "the kernel config lacks what the fragments ask for (see above)"
	return 0
}

# prepare_source: the source package extracted once into $dir/src, again
# only when the tarball changes (a stamp beside it).  Each kernel's tree is
# a copy: extracting takes minutes on a busy machine, copying seconds.
prepare_source() {
	local stamp start
	stamp=$(ls -l --time-style=+%s "$source_tar")
	[ -f "$dir/src/Makefile" ] && [ "$(cat "$dir/src.stamp" 2>/dev/null)" = "$stamp" ] &&
		return 0
	say "extracting $source_tar into $dir/src"
	start=$(date +%s)
	rm -rf "$dir/src" "$dir/src.stamp"
	mkdir -p "$dir/src"
	tar -xJf "$source_tar" -C "$dir/src" --strip-components=1 ||
		die "cannot extract $source_tar"
	echo "$stamp" >"$dir/src.stamp"
	say "extracted in $(( $(date +%s) - start ))s"
}

# build_kernel KTASK: copy the source, patch, configure and build; keep
# the result.
build_kernel() {
	local k=$1 tree=$dir/tree-ktask-$1 p start
	[ "$k" = plain ] && tree=$dir/tree-plain
	[ -f "$source_tar" ] || die "no $source_tar (apt-get install linux-source-6.12)"
	prepare_source
	say "$(label "$k"): copying the source into $tree"
	start=$(date +%s)
	rm -rf "$tree"
	cp -a "$dir/src" "$tree" || die "cannot copy $dir/src to $tree"
	say "$(label "$k"): copied in $(( $(date +%s) - start ))s"
	if [ "$k" != plain ]; then
		for p in "${patches[@]}"; do
			patch -d "$tree" -p1 -N --batch --fuzz=0 -s -i "$here/$p" ||
				die "$p does not apply to $(basename "$source_tar")"
		done
	fi
	(
		cd "$tree"
		make -s tinyconfig >/dev/null
		kfrags "$k"
		frag=("${frags[@]}")
		if [ "$k" = plain ]; then
			grep -v '^CONFIG_KTASK' "$here/guest.config" >"$work/plain.config"
			frag=("$work/plain.config" "${fragments[@]:1}")
		elif [ "$k" = n ]; then
			echo "# CONFIG_KTASK is not set" >"$work/ktask-n.config"
			frag+=("$work/ktask-n.config")
		fi
		scripts/kconfig/merge_config.sh -m .config "${frag[@]}" >"$work/merge-$k.log" 2>&1
		make -s olddefconfig >/dev/null
	) || die "configuring the $(label "$k") kernel failed"
	check_config "$tree" "$k"
	say "$(label "$k"): make -j$jobs bzImage modules (ccache $CCACHE_DIR)"
	start=$(date +%s)
	(
		cd "$tree"
		export CCACHE_BASEDIR=$tree CCACHE_NOHASHDIR=1
		make -j"$jobs" CC="ccache gcc" KBUILD_BUILD_TIMESTAMP=ktask-series \
			KBUILD_BUILD_USER=ktask KBUILD_BUILD_HOST=series \
			bzImage modules >"$dir/logs/build-$(name "$k").log" 2>&1
	) || { tail -30 "$dir/logs/build-$(name "$k").log" >&2; die "the $(label "$k") kernel does not build (log: $dir/logs/build-$(name "$k").log)"; }
	say "$(label "$k"): built in $(( $(date +%s) - start ))s"
	grep -E "warning:|error:" "$dir/logs/build-$(name "$k").log" >&2 || :
	cp "$tree/arch/x86/boot/bzImage" "$dir/kernels/bzImage-$(name "$k")"
	cp "$tree/.config" "$dir/kernels/config-$(name "$k")"
	if [ "$k" = plain ]; then
		plain_stamp >"$dir/kernels/stamp-plain"
	else
		printf '%s\n' "${patches[@]}" >"$dir/kernels/series-$(name "$k")"
	fi
}

# What the plain kernel depends on: the source package, the compiler and
# the config fragments.
plain_stamp() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.12 2>/dev/null || :
		ls -l --time-style=+%s "$source_tar"
		gcc --version | head -1
		cat "${fragments[@]}"
	} | sha256sum
}

# build_peers: the peer suites, in $work/peer (see the top of this file).
# Both are kept in $dir/peer-{libhugetlbfs,mm-hugetlb} and built again only
# when what they are built from changes (a stamp in each): neither depends
# on the series.
build_peers() {
	local shared=$top/../shared/peer/libhugetlbfs hlt=$dir/peer-libhugetlbfs
	local mm=$dir/peer-mm-hugetlb src=$dir/src/tools/testing/selftests/mm t stamp n
	mkdir -p "$work/peer"
	if [ ! -x "$shared/build.sh" ]; then
		say "peer suite libhugetlbfs skipped: no $shared/build.sh (CI keeps a copy of shared/ beside the clone, at ../shared)"
	elif [ ! -f /usr/lib/x86_64-linux-gnu/libhugetlbfs.a ]; then
		say "peer suite libhugetlbfs skipped: no libhugetlbfs.a (apt-get install libhugetlbfs-dev)"
	else
		stamp=$({ gcc --version | head -1
			  ls -l --time-style=+%s /usr/lib/x86_64-linux-gnu/libhugetlbfs.a
			  find "$shared" -type f | LC_ALL=C sort | xargs cat; } | sha256sum)
		if [ "$(cat "$hlt.stamp" 2>/dev/null)" != "$stamp" ]; then
			rm -rf "$hlt" "$hlt.stamp"
			(cd "$work" && "$shared/build.sh" "$hlt") >"$work/peer-hlt.log" 2>&1
			echo "$stamp" >"$hlt.stamp"
		fi
		n=$(find "$hlt" -type f | wc -l)
		say "peer suite libhugetlbfs: $n tests"
		if [ "$n" -gt 0 ]; then
			cp -r "$hlt" "$work/peer/libhugetlbfs"
			cp "$here/peer/libhugetlbfs.sh" "$work/peer/"
		fi
	fi
	[ -x /bin/bash-static ] || { say "peer suite mm-hugetlb skipped: no /bin/bash-static (apt-get install bash-static)"; return 0; }
	prepare_source
	stamp=$({ cat "$dir/src.stamp"; gcc --version | head -1; } | sha256sum)
	if [ "$(cat "$mm.stamp" 2>/dev/null)" != "$stamp" ]; then
		rm -rf "$mm" "$mm.stamp" "$work/hdr"
		# The tree's uapi headers, built outside it (O=): src stays clean.
		make -s -C "$dir/src" O="$work/hdr" headers >"$work/peer-mm.log" 2>&1 ||
			{ cat "$work/peer-mm.log" >&2; die "make headers failed in $dir/src"; }
		mkdir -p "$mm"
		for t in hugepage-mmap hugepage-shm map_hugetlb hugepage-mremap hugepage-vmemmap \
			 hugetlb-madvise hugetlb_dio hugetlb_fault_after_madv hugetlb_madv_vs_map \
			 thuge-gen write_to_hugetlbfs hugetlb-soft-offline hugetlb-read-hwpoison; do
			gcc -Wall -O2 -static -U_FORTIFY_SOURCE -I "$src/.." -isystem "$work/hdr/usr/include" \
				-isystem "$dir/src/tools/include/uapi" -o "$mm/$t" "$src/$t.c" \
				"$src/vm_util.c" "$src/thp_settings.c" -lrt -lpthread -lm \
				>>"$work/peer-mm.log" 2>&1 ||
				{ cat "$work/peer-mm.log" >&2; die "mm selftest $t does not build statically"; }
		done
		cp "$src/run_vmtests.sh" "$src/charge_reserved_hugetlb.sh" \
			"$src/hugetlb_reparenting_test.sh" "$src/write_hugetlb_memory.sh" "$mm/"
		echo "$stamp" >"$mm.stamp"
	fi
	cp -r "$mm" "$work/peer/mm-hugetlb"
	cp "$here/peer/mm-hugetlb.sh" "$work/peer/"
	say "peer suite mm-hugetlb: run_vmtests.sh -t hugetlb of $(basename "$source_tar")"
}

# test_modules: the test modules of the ktask=y tree (CONFIG_KTASK_TEST=m:
# kernel/ktask_test.c, ktask_clear.c and ktask_torture.c, which gen-core.sh
# puts in the core patch).
test_modules() {
	local tree=$dir/tree-ktask-y f
	mkdir -p "$work/modules"
	for f in ktask_test ktask_clear ktask_torture; do
		[ -f "$tree/kernel/ktask/$f.ko" ] ||
			die "no $tree/kernel/ktask/$f.ko: is CONFIG_KTASK_TEST=m in the ktask=y kernel?"
		cp "$tree/kernel/ktask/$f.ko" "$work/modules/"
	done
}

# --- Build ----------------------------------------------------------------
for k in $kernels; do
	case $k in y|n|plain|perf) ;; *) die "KTASK_SERIES_KERNELS: plain, y, n and/or perf, not $k" ;; esac
	if [ "$k" = plain ] && [ "$build" = 1 ] && [ -s "$dir/kernels/bzImage-plain" ] &&
	   [ "$(plain_stamp)" = "$(cat "$dir/kernels/stamp-plain" 2>/dev/null)" ]; then
		say "plain: the kept kernel is up to date"
	elif [ "$build" = 1 ]; then
		build_kernel "$k"
	elif [ ! -s "$dir/kernels/bzImage-$(name "$k")" ]; then
		die "KTASK_SERIES_BUILD=0 but no kept kernel $dir/kernels/bzImage-$(name "$k")"
	fi
done
[ "$peers" = 1 ] && build_peers
case " $kernels " in
*" y "*)
	[ -d "$dir/tree-ktask-y" ] || die "no ktask=y tree to build the selftests against: run with KTASK_SERIES_BUILD=1"
	test_modules ;;
esac

# The guest programs, static; a program that does not build is a failure.
mkdir -p "$work/guest"
prog_build_failed=0
for c in "$here"/guest/*.c; do
	[ -e "$c" ] || continue
	name=$(basename "$c" .c)
	if ! gcc -O2 -static -Wall -pthread -o "$work/guest/$name" "$c" -lm \
		2>"$work/gcc-$name.log"; then
		cat "$work/gcc-$name.log" >&2
		say "not ok: guest program $name does not build"
		prog_build_failed=$((prog_build_failed + 1))
	fi
done

# --- Initramfs ------------------------------------------------------------
# make_initramfs BOOT ROOT: the guest's files; user_tests only for ktask=y.
# BOOT is y, n, plain or yf (the y kernel with ktask.fail_init=1).
make_initramfs() {
	local k=$1 root=$2 t i=0 lib applet
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,ktask,tests,guest,peer}
	cp /bin/busybox "$root/bin/busybox"
	for applet in $("$root/bin/busybox" --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
	if [ "$k" = y ]; then
		cp "$work"/modules/*.ko "$root/ktask/"
		for t in "${user_tests[@]}"; do
			i=$((i + 1))
			cp "$t" "$root/tests/$(printf %02d $i)-$(basename "$t")"
			# Its loader and libraries at their paths, and the
			# libraries once more in /lib/ktask-libs: the guest mounts
			# a tmpfs on /tmp, which would hide a build tree there
			# (a RUNPATH of /tmp/...), so the tests run with
			# LD_LIBRARY_PATH=/lib/ktask-libs.
			mkdir -p "$root/lib/ktask-libs"
			for lib in $(ldd "$t" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
				mkdir -p "$root$(dirname "$lib")"
				cp -L "$lib" "$root$lib"
				cp -L "$lib" "$root/lib/ktask-libs/"
			done
		done
	fi
	[ "$k" = yf ] && cp "$work"/modules/ktask_clear.ko "$root/ktask/"
	case $k in y|n|perf) cp "$work"/guest/* "$root/guest/" 2>/dev/null || : ;; esac
	if [ "$k" != yf ] && [ "$k" != perf ] && [ -d "$work/peer" ]; then
		cp -r "$work"/peer/. "$root/peer/"
		[ -x /bin/bash-static ] && cp /bin/bash-static "$root/bin/bash"
	fi
	cat >"$root/init" <<INIT
#!/bin/sh
export PATH=/bin
K=$k
# What the guest programs are told: the perf kernel is a y kernel.
KK=\${K%perf}; KK=\${KK:-y}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/hugepages /dev/hugepages1G
mount -t hugetlbfs -o pagesize=2M none /dev/hugepages
mount -t hugetlbfs -o pagesize=1G none /dev/hugepages1G
echo "ktask-series: kernel ktask=\$K, \$(nproc) cpus, \$(ls -d /sys/devices/system/node/node[0-9]* | wc -l) nodes"
grep -E "^(HugePages_Total|Hugetlb)" /proc/meminfo | sed 's/^/# /'

# /sys/module/ktask: there, built in (no initstate), and writable, or absent.
echo "KTAP version 1"
p=/sys/module/ktask/parameters/max_threads
if [ \$K = yf ]; then
	# ktask_init() failed (ktask.fail_init=1): the kernel booted, said so,
	# ran its boot-time tasks (deferred struct pages) in their callers, and
	# shows no helpers.
	echo "1..3"
	if dmesg | grep -q "ktask: no helpers, tasks run in their callers"; then
		echo "ok 1 fail_init_reported"
	else
		echo "not ok 1 fail_init_reported"
	fi
	if [ "\$(cat /sys/module/ktask/parameters/limits)" = "helpers 0" ]; then
		echo "ok 2 limits_without_pool"
	else
		echo "not ok 2 limits_without_pool # \$(cat /sys/module/ktask/parameters/limits)"
	fi
	if dmesg | grep -q "deferred pages initialised"; then
		echo "ok 3 deferred_init_without_pool"
	else
		echo "not ok 3 deferred_init_without_pool"
	fi
	insmod /ktask/ktask_clear.ko mib=64 && rmmod ktask_clear
elif [ \$KK = y ]; then
	echo "1..2"
	if [ -d /sys/module/ktask ] && [ ! -e /sys/module/ktask/initstate ]; then
		echo "ok 1 ktask_builtin_in_sysfs"
	else
		echo "not ok 1 ktask_builtin_in_sysfs"
	fi
	if [ "\$(cat \$p)" = 0 ] && echo 1 >\$p && [ "\$(cat \$p)" = 1 ] &&
	   echo 0 >\$p && [ "\$(cat \$p)" = 0 ]; then
		echo "ok 2 max_threads_read_write"
	else
		echo "not ok 2 max_threads_read_write"
	fi
else
	echo "1..1"
	if [ ! -e /sys/module/ktask ]; then
		echo "ok 1 no_ktask_in_sysfs"
	else
		echo "not ok 1 no_ktask_in_sysfs"
	fi
fi

if [ \$K = y ]; then
	insmod /ktask/ktask_test.ko wq_cpumask=\$(cat /sys/devices/virtual/workqueue/cpumask) &&
		rmmod ktask_test
	insmod /ktask/ktask_clear.ko mib=256 && rmmod ktask_clear
	insmod /ktask/ktask_torture.ko secs=15 threads=4 && rmmod ktask_torture
fi
cd /tmp
for t in /tests/*; do
	[ -x "\$t" ] || continue
	name=\${t##*/}
	echo "ktask-guest: running \$name"
	LD_LIBRARY_PATH=/lib/ktask-libs timeout $prog_timeout "\$t" >/tmp/out 2>&1
	rc=\$?
	sed 's/^/user: /' /tmp/out
	if [ \$rc = 0 ]; then
		echo "ktask-user: ok \$name"
	else
		echo "ktask-user: not ok \$name (exit \$rc)"
	fi
done
for t in /guest/*; do
	[ -x "\$t" ] || continue
	name=\${t##*/}
	echo "ktask-prog: begin \$name"
	KTASK_KERNEL=\$KK KTASK_MM_RATIOS=$ratios timeout $prog_timeout "\$t" >/tmp/out 2>&1
	rc=\$?
	sed 's/^/prog: /' /tmp/out
	echo "ktask-prog: end \$name \$rc"
done
for t in /peer/*.sh; do
	[ -x "\$t" ] || continue
	name=\${t##*/}
	name=peer-\${name%.sh}
	echo "ktask-prog: begin \$name"
	timeout $prog_timeout "\$t" "\${t%.sh}" >/tmp/out 2>&1
	rc=\$?
	sed 's/^/prog: /' /tmp/out
	echo "ktask-prog: end \$name \$rc"
done
cd /
grep -E "^(HugePages_Total|HugePages_Free)" /proc/meminfo | sed 's/^/# /'
echo "ktask-series: done"
reboot -f
INIT
	chmod +x "$root/init"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) \
		>"$work/initramfs-$k.gz"
}

# --- The VFIO boot --------------------------------------------------------
# run_vfio: each kernel once more, as a q35 machine with QEMU's emulated
# VT-d (intel-iommu, no interrupt remapping: vfio_iommu_type1 is told to
# allow that) and its edu teaching device (1234:11e8, no guest driver),
# running only the programs in kernel/series/guest-vfio/ under the same
# contract as guest/*.c.  They bind edu to vfio-pci themselves.  No
# caching-mode: that is for QEMU's own vfio-pci devices behind the
# emulated VT-d (it makes the guest report every mapping so QEMU can
# shadow it); edu is emulated and QEMU translates its DMA on each access.
# No huge pages are reserved, so the guest's 6 GiB leave room for a 2 GiB
# buffer plus its pinned copy in the IOMMU page tables.  The verdict: every
# KTAP document complete, no crash or lockdep report, the end reached.
run_vfio() {
	local k c name log start qemu_rc verdict line p f root quick nr=0
	local vfio_timeout=${KTASK_SERIES_VFIO_TIMEOUT:-1800}
	mkdir -p "$work/guest-vfio"
	for c in "$here"/guest-vfio/*.c; do
		[ -e "$c" ] || continue
		name=$(basename "$c" .c)
		if ! gcc -O2 -static -Wall -pthread -o "$work/guest-vfio/$name" "$c" -lm \
			2>"$work/gcc-vfio-$name.log"; then
			cat "$work/gcc-vfio-$name.log" >&2
			say "not ok: guest program $name does not build"
			prog_build_failed=$((prog_build_failed + 1))
			continue
		fi
		nr=$((nr + 1))
	done
	[ "$nr" -gt 0 ] || return 0
	for k in $kernels; do
		# The plain kernel has no ktask and no 0014: nothing to compare.
		[ "$k" = plain ] && continue
		# With a perf kernel in the run, it alone times the maps; the
		# lock-debugging kernels check the undo (KTASK_VFIO_QUICK=1).
		quick=${KTASK_SERIES_VFIO_QUICK:-}
		if [ -z "$quick" ]; then
			quick=1
			[ "$k" = perf ] && quick=0
		fi
		root=$work/root-vfio-$k
		mkdir -p "$root"/{bin,dev,proc,sys,tmp,guest}
		cp /bin/busybox "$root/bin/busybox"
		for c in $("$root/bin/busybox" --list); do
			[ "$c" = busybox ] || ln -s busybox "$root/bin/$c"
		done
		cp "$work"/guest-vfio/* "$root/guest/"
		cat >"$root/init" <<INIT
#!/bin/sh
export PATH=/bin
K=$k
KK=\${K%perf}; KK=\${KK:-y}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo "ktask-series: vfio boot, kernel ktask=\$K, \$(nproc) cpus"
dmesg | grep -E "DMAR: IOMMU enabled|iommu: Default domain" | sed 's/^\[ *[0-9.]*\] /# /'
cd /tmp
for t in /guest/*; do
	[ -x "\$t" ] || continue
	name=\${t##*/}
	echo "ktask-prog: begin \$name"
	KTASK_KERNEL=\$KK KTASK_MM_RATIOS=$ratios KTASK_VFIO_QUICK=$quick timeout $vfio_timeout "\$t" >/tmp/out 2>&1
	rc=\$?
	sed 's/^/prog: /' /tmp/out
	echo "ktask-prog: end \$name \$rc"
done
cd /
echo "ktask-series: done"
reboot -f
INIT
		chmod +x "$root/init"
		(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) \
			>"$work/initramfs-vfio-$k.gz"
		log=$dir/logs/serial-vfio-$(name "$k").log
		: >"$log"
		say "vfio ktask=$k: booting (TCG q35, intel-iommu, edu, 4 vCPUs, 2 nodes, 6 GiB; at most $((vfio_timeout + 300))s), log $log"
		start=$(date +%s)
		set +e
		# shellcheck disable=SC2086
		flock "$dir/qemu.lock" \
		timeout -k 10 "$((vfio_timeout + 300))" qemu-system-x86_64 \
			-machine q35 -accel tcg -cpu qemu64,+pdpe1gb \
			-smp 4,sockets=2,cores=2,threads=1 -m 6G \
			-object memory-backend-ram,id=mem0,size=3G \
			-object memory-backend-ram,id=mem1,size=3G \
			-numa node,nodeid=0,cpus=0-1,memdev=mem0 \
			-numa node,nodeid=1,cpus=2-3,memdev=mem1 \
			-device intel-iommu,intremap=off -device edu \
			-kernel "$dir/kernels/bzImage-$(name "$k")" -initrd "$work/initramfs-vfio-$k.gz" \
			-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 rdinit=/init no_timer_check vfio_iommu_type1.allow_unsafe_interrupts=1 ${KTASK_SERIES_CMDLINE:-}" \
			-nographic -monitor none -serial "file:$log" -nic none -no-reboot \
			${KTASK_SERIES_QEMU_ARGS:-} </dev/null >"$work/qemu-vfio-$k.out" 2>&1
		qemu_rc=$?
		set -e
		say "vfio ktask=$k: QEMU exited $qemu_rc after $(( $(date +%s) - start ))s (not used to judge)"
		[ $qemu_rc = 124 ] && say "vfio ktask=$k: the VM run timed out"
		[ $qemu_rc = 0 ] || sed 's/^/qemu: /' "$work/qemu-vfio-$k.out" | head -5 >&2
		verdict=$(tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //' |
		awk -v k="vfio ktask=$k" -v nr="$nr" '
		function close_doc() {
			if (!in_doc) return
			if (plan < 0) { print "series: " k ": " prog " has no KTAP plan"; extra++ }
			else if (seen != plan) { print "series: " k ": " prog " planned " plan ", reported " seen; extra++ }
			in_doc = 0
		}
		/^ktask-prog: begin / { prog = $3; progs++; docs = 0; next }
		/^ktask-prog: end / {
			close_doc()
			if (!docs) { print "series: " k ": " prog " printed no KTAP"; extra++ }
			if ($4 != "0") { print "series: " k ": " prog " exited " $4; extra++ }
			prog = ""; next
		}
		prog != "" && /^prog: / {
			line = substr($0, 7)
			if (line == "KTAP version 1") { close_doc(); in_doc = 1; plan = -1; seen = 0; docs++; next }
			if (in_doc && line ~ /^1\.\.[0-9]+$/) { plan = substr(line, 4) + 0; next }
			if (in_doc && line ~ /^(not )?ok [0-9]+/) {
				seen++
				if (line ~ /^not ok /) fail++; else { pass++; if (line ~ /# SKIP/) skip++ }
				print "series: " k ": " prog ": " line; next
			}
			if (line ~ /^# /) print "series: " k ": " prog ": " line
			next
		}
		/^# / { print "series: " k ": " $0; next }
		/^ktask-series: done$/ { done = 1 }
		/Kernel panic|BUG:|WARNING:|Oops|Call Trace:|ODEBUG|possible (circular|recursive) locking|inconsistent lock state|lock held when returning|INFO: / {
			crash++; if (crash <= 20) print "series: " k ": console: " $0
		}
		END {
			close_doc()
			if (progs != nr) { print "series: " k ": " nr " guest programs, " progs + 0 " ran"; extra++ }
			if (crash) { print "series: " k ": the kernel crashed, warned or reported a locking problem"; extra++ }
			if (!done) { print "series: " k ": the guest did not reach its end"; extra++ }
			if (skip) print "series: " k ": " skip " KTAP tests skipped (counted as passed)"
			printf "series: %s: %d passed, %d failed\n", k, pass, fail + extra
		}')
		echo "$verdict"
		line=$(echo "$verdict" | tail -1)
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
		f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
		total_pass=$((total_pass + p))
		total_fail=$((total_fail + f))
	done
}

# --- Boot and judge -------------------------------------------------------
user_tests=("$@")
total_pass=0
total_fail=0
# The boots: plain first (its peer results are the reference), the y
# kernel a second time with ktask.fail_init=1.
vfio=${KTASK_SERIES_VFIO:-1}
boots=
case " $kernels " in *" plain "*) boots=plain ;; esac
for k in $kernels; do
	case $k in
	plain) ;;
	y) boots="$boots y"; [ "$fail_init" = 1 ] && boots="$boots yf" ;;
	*) boots="$boots $k" ;;
	esac
done
peer_base=$dir/kernels/peer-results-plain
case " $kernels " in
*" plain "*) : >"$peer_base.new" ;;
*) if [ -s "$peer_base" ]; then say "peer suites: judged against the kept plain 6.12 results ($peer_base)"
   else say "peer suites: no plain 6.12 results kept: every peer failure counts"; fi ;;
esac
nr_peer=0
[ -d "$work/peer" ] && nr_peer=$(find "$work/peer" -maxdepth 1 -name '*.sh' | wc -l)
[ "$vfio" = only ] && boots=
for k in $boots; do
	make_initramfs "$k" "$work/root-$k"
	log=$dir/logs/serial-$(name "$k").log
	: >"$log"
	cmdline=
	[ "$k" = yf ] && cmdline=ktask.fail_init=1
	say "$(label "$k"): booting (TCG, 4 vCPUs, 2 nodes, 6 GiB; at most ${vm_timeout}s), log $log"
	start=$(date +%s)
	set +e
	# One VM at a time from this directory.
	# shellcheck disable=SC2086
	flock "$dir/qemu.lock" \
	timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
		-accel tcg -cpu qemu64,+pdpe1gb \
		-smp 4,sockets=2,cores=2,threads=1 -m 6G \
		-object memory-backend-ram,id=mem0,size=3G \
		-object memory-backend-ram,id=mem1,size=3G \
		-numa node,nodeid=0,cpus=0-1,memdev=mem0 \
		-numa node,nodeid=1,cpus=2-3,memdev=mem1 \
		-kernel "$dir/kernels/bzImage-$(kname "$k")" -initrd "$work/initramfs-$k.gz" \
		-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 rdinit=/init no_timer_check hugepagesz=1G hugepages=1 hugepagesz=2M hugepages=300 $cmdline ${KTASK_SERIES_CMDLINE:-}" \
		-nographic -monitor none -serial "file:$log" -nic none -no-reboot \
		${KTASK_SERIES_QEMU_ARGS:-} </dev/null >"$work/qemu-$k.out" 2>&1
	qemu_rc=$?
	set -e
	say "$(label "$k"): QEMU exited $qemu_rc after $(( $(date +%s) - start ))s (not used to judge)"
	[ $qemu_rc = 124 ] && say "$(label "$k"): the VM run timed out"
	[ $qemu_rc = 0 ] || sed 's/^/qemu: /' "$work/qemu-$k.out" | head -5 >&2

	want_docs=1
	[ "$k" = y ] && want_docs=4
	[ "$k" = yf ] && want_docs=2
	nr_guest=$(find "$work/guest" -type f | wc -l)
	case $k in
	plain) nr_guest=$nr_peer ;;
	yf) nr_guest=0 ;;
	perf) ;;
	*) nr_guest=$((nr_guest + nr_peer)) ;;
	esac
	nr_user=0
	[ "$k" = y ] && nr_user=${#user_tests[@]}
	base_in=$peer_base base_out=/dev/null
	[ "$k" = plain ] && base_in=/dev/null base_out=$peer_base.new
	[ -f "$base_in" ] || base_in=/dev/null
	# grep finds nothing in an empty log: still judge it (as failed).
	verdict=$(tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //' | { grep -Ev '^user: ' || :; } |
	awk -v k="$(label "$k")" -v want_docs="$want_docs" -v nr_guest="$nr_guest" -v nr_user="$nr_user" \
		-v plain="$([ "$k" = plain ] && echo 1 || echo 0)" -v base_in="$base_in" -v base_out="$base_out" '
	BEGIN {
		FS_SAVE = FS
		while ((getline l < base_in) > 0) {
			i = index(l, "\t")
			if (i) base[substr(l, 1, i - 1)] = substr(l, i + 1)
		}
	}
	# A peer suite result, judged against plain 6.12 (see the top of run.sh).
	function peer_result(line,   st, desc, key, b) {
		st = line ~ /^not ok / ? "fail" : (line ~ /# SKIP/ ? "skip" : "pass")
		desc = line
		sub(/^(not )?ok [0-9]+ /, "", desc)
		sub(/ # .*$/, "", desc)
		key = prog ":" desc
		if (plain) {
			printf "%s\t%s\n", key, st > base_out
			if (st == "fail") { nocount++; print "series: " k ": " prog ": " line " (the reference: not counted)"; return }
			pass++; if (st == "skip") skip++
			print "series: " k ": " prog ": " line
			return
		}
		b = (key in base) ? base[key] : ""
		if (st == "pass" || (st == "skip" && b != "pass")) {
			pass++; if (st == "skip") skip++
			print "series: " k ": " prog ": " line
		} else if (st == "fail" && b == "fail") {
			nocount++
			print "series: " k ": " prog ": " line " (fails on plain 6.12 too: not counted)"
		} else {
			fail++
			print "series: " k ": " prog ": " line (b == "pass" ? " (REGRESSION: passes on plain 6.12)" : b == "skip" ? " (skipped on plain 6.12)" : " (no plain 6.12 result)")
		}
	}
	function close_doc() {
		if (!in_doc) return
		if (plan < 0) { print "series: " k ": " doc_name " has no KTAP plan"; extra++ }
		else if (seen != plan) { print "series: " k ": " doc_name " planned " plan ", reported " seen; extra++ }
		in_doc = 0
	}
	function result(line) {
		seen++
		if (prog ~ /^peer-/) { peer_result(line); return }
		if (line ~ /^not ok /) { fail++ } else { pass++; if (line ~ /# SKIP/) skip++ }
		print "series: " k ": " (prog != "" ? prog ": " : "") line
	}
	# A guest program: its own KTAP document between begin and end.
	/^ktask-prog: begin / { close_doc(); prog = $3; progs++; doc_name = prog; next }
	/^ktask-prog: end / {
		if (!docs_in_prog) { print "series: " k ": " prog " printed no KTAP"; extra++ }
		close_doc()
		if ($4 != "0") { print "series: " k ": " prog " exited " $4; extra++ }
		prog = ""; docs_in_prog = 0; next
	}
	prog != "" && /^prog: / {
		line = substr($0, 7)
		if (line == "KTAP version 1") { close_doc(); in_doc = 1; plan = -1; seen = 0; docs_in_prog++; next }
		if (in_doc && line ~ /^1\.\.[0-9]+$/) { plan = substr(line, 4) + 0; next }
		if (in_doc && line ~ /^(not )?ok [0-9]+/) { result(line); next }
		if (line ~ /^# /) print "series: " k ": " prog ": " line
		next
	}
	/^KTAP version 1$/ { close_doc(); kdocs++; doc_name = "kernel KTAP document " kdocs; in_doc = 1; plan = -1; seen = 0; next }
	in_doc && /^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
	in_doc && /^(not )?ok [0-9]+ / { result($0); next }
	/^# / { print "series: " k ": " $0; next }
	/^ktask-user: ok / { upass++; print "series: " k ": " $0; next }
	/^ktask-user: not ok / { ufail++; print "series: " k ": " $0; next }
	/deferred pages initialised|HugeTLB: .*(pre-allocated|allocation took)|^ktask: / { print "series: " k ": boot: " $0 }
	/^ktask-series: done$/ { done = 1 }
	/Kernel panic|BUG:|WARNING:|Oops|Call Trace:|ODEBUG|possible (circular|recursive) locking|inconsistent lock state|lock held when returning|INFO: / {
		crash++; if (crash <= 20) print "series: " k ": console: " $0
	}
	END {
		close_doc()
		if (kdocs < want_docs) { print "series: " k ": expected " want_docs " kernel KTAP documents, saw " kdocs + 0; extra++ }
		if (progs != nr_guest) { print "series: " k ": " nr_guest " guest programs, " progs + 0 " ran"; extra++ }
		if (upass + ufail != nr_user) { print "series: " k ": " nr_user " userland tests given, " upass + ufail " reported"; extra++ }
		if (crash) { print "series: " k ": the kernel crashed, warned or reported a locking problem"; extra++ }
		if (!done) { print "series: " k ": the guest did not reach its end"; extra++ }
		if (skip) print "series: " k ": " skip " KTAP tests skipped (counted as passed)"
		if (nocount) print "series: " k ": " nocount " peer tests failed as on plain 6.12 (not counted)"
		printf "series: %s: %d passed, %d failed\n", k, pass + upass, fail + ufail + extra
	}')
	echo "$verdict"
	line=$(echo "$verdict" | tail -1)
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	# The reference for later boots, and kept for runs without plain.
	[ "$k" = plain ] && mv "$peer_base.new" "$peer_base"
done
case $vfio in 0) ;; *) run_vfio ;; esac
total_fail=$((total_fail + prog_build_failed))
echo "series: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
