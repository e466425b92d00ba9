#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# test-qemu.sh - builds ktask.ko and its test modules against Debian's
# kernel headers, boots the matching Debian kernel in QEMU (TCG, 4 vCPUs on
# 2 NUMA nodes, or 8 on 4; no network) with a busybox initramfs, loads the
# modules, runs any userland test executables given, and powers off.
#
# In the guest: the selftests (ktask_test.ko) with ktask.ko's max_threads at
# its default, then at 1 and 2; ktask_clear.ko; ktask_torture.ko while a
# shell loop offlines and onlines CPUs (one at a time, and every CPU of the
# last node), after which every CPU comes back and the helper limits must be
# those at load; then the userland tests.
#
# Pass or fail comes from the KTAP lines on the serial console and the
# userland tests' exit codes, never from QEMU's exit code (QEMU exits 0 on
# a guest panic).  The last line is "kernel: N passed, N failed".
#
#   usage: kernel/test-qemu.sh [test-executable...]
#
# Test executables may be static or dynamic; a dynamic one's loader and
# shared libraries are copied into the initramfs at the same paths.
#
# Environment: KTASK_KERNEL (6.1, the default: the headers that
# linux-headers-amd64 depends on; or 6.12: the newest
# linux-headers-6.12.*+deb12-amd64, installed if missing), KDIR (headers to
# build against, overrides KTASK_KERNEL), KTASK_QEMU_NODES (2 or 4),
# KTASK_QEMU_KERNEL (a kernel image to boot instead of Debian's, built from
# KDIR), KTASK_QEMU_CACHE (where kernel images are kept),
# KTASK_QEMU_TIMEOUT (seconds for the whole VM run, 600),
# KTASK_GUEST_TEST_TIMEOUT (seconds per userland test in the guest, 300),
# KTASK_CLEAR_MIB (size ktask_clear.ko clears, 256), KTASK_TORTURE_SECS
# (how long ktask_torture.ko runs, 15), KTASK_HOTPLUG (0: no CPU hotplug
# during the torture run), KTASK_LOCKDEP_SPLAT (1: also run the selftest
# that makes lockdep report a cycle on purpose, and expect exactly that
# report; needs a KTASK_QEMU_KERNEL with lockdep), KTASK_PRIO_BENCH (1:
# first measure an iterator task's latency next to a CPU hog on every CPU,
# ktask_test.ko bench_prio=1), KTASK_NO_LOCK_BOOST (1: build ktask.ko
# without the boost on kt_lock, to compare), KTASK_DEBUG_YIELD (1:
# build ktask.ko with the debug-yield delays), KTASK_QEMU_LOG (serial log
# file; default in a temporary directory, kept on failure).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KTASK_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ktask-qemu}
vm_timeout=${KTASK_QEMU_TIMEOUT:-600}
test_timeout=${KTASK_GUEST_TEST_TIMEOUT:-300}
clear_mib=${KTASK_CLEAR_MIB:-256}
torture_secs=${KTASK_TORTURE_SECS:-15}
nodes=${KTASK_QEMU_NODES:-2}
hotplug=${KTASK_HOTPLUG:-1}
splat=${KTASK_LOCKDEP_SPLAT:-0}
prio_bench=${KTASK_PRIO_BENCH:-0}
case $nodes in 2|4) ;; *) echo "test-qemu: KTASK_QEMU_NODES must be 2 or 4" >&2; exit 1 ;; esac

say() { echo "test-qemu: $*" >&2; }
die() { say "$*"; echo "kernel: 0 passed, 1 failed"; exit 1; }

for t in "$@"; do
	[ -f "$t" ] && [ -x "$t" ] || die "not an executable file: $t"
done

# --- Packages -------------------------------------------------------------
missing=()
dpkg -s linux-headers-amd64 >/dev/null 2>&1 || missing+=(linux-headers-amd64)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
command -v make >/dev/null || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 update -qq ||
		die "apt-get update failed"
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" \
		>/dev/null || die "apt-get install ${missing[*]} failed"
fi

# --- Headers and the kernel image of the same ABI -------------------------
if [ -z "${KDIR:-}" ] && [ "${KTASK_KERNEL:-6.1}" = 6.12 ]; then
	# Debian 12 also ships 6.12 (bookworm-backports and the security
	# updates): the newest headers of the plain amd64 flavour.
	# dpkg-query fails when no such package is known yet: under
	# pipefail that would end the script silently (a fresh machine).
	hdr=$({ dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' \
	      'linux-headers-6.12.*+deb12-amd64' 2>/dev/null || :; } |
	      awk '$1 == "ii" {print $2}' | sort -V | tail -n 1)
	if [ -z "$hdr" ]; then
		hdr=$(apt-cache search --names-only \
		      '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
		      awk '{print $1}' | sort -V | tail -n 1)
		[ -n "$hdr" ] || die "no linux-headers-6.12.*+deb12-amd64 known to apt"
		say "installing $hdr"
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
			install -y -qq --no-install-recommends "$hdr" >/dev/null ||
			die "apt-get install $hdr failed"
	fi
	KDIR=/usr/src/$hdr
elif [ -z "${KDIR:-}" ]; then
	hdr=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
	      sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p')
	KDIR=/usr/src/$hdr
fi
[ -f "$KDIR/include/generated/utsrelease.h" ] || die "no kernel headers in $KDIR"
release=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	  "$KDIR/include/generated/utsrelease.h")
[ -n "$release" ] || die "cannot read the kernel release of $KDIR"
say "headers $KDIR, kernel $release"

vmlinuz=${KTASK_QEMU_KERNEL:-$cache/$release/vmlinuz}
if [ -n "${KTASK_QEMU_KERNEL:-}" ]; then
	[ -s "$vmlinuz" ] || die "no kernel image $vmlinuz"
elif [ ! -s "$vmlinuz" ]; then
	mkdir -p "$cache/$release"
	# The signed image is a separate package; the unsigned one is enough.
	pkg=linux-image-$release-unsigned
	apt-cache show "$pkg" >/dev/null 2>&1 || pkg=linux-image-$release
	say "downloading $pkg"
	(cd "$cache/$release" && rm -f ./*.deb &&
	 apt-get download "$pkg" >/dev/null 2>&1) ||
		die "apt-get download $pkg failed"
	dpkg-deb --fsys-tarfile "$cache/$release"/*.deb |
		tar -xO "./boot/vmlinuz-$release" >"$vmlinuz.tmp" ||
		die "no vmlinuz-$release in $pkg"
	mv "$vmlinuz.tmp" "$vmlinuz"
	rm -f "$cache/$release"/*.deb
fi

# --- Modules ---------------------------------------------------------------
say "building modules"
# KTASK_DEBUG_YIELD=1: ktask.ko with random delays at the core's race windows.
make -s -C "$here" KDIR="$KDIR" KTASK_DEBUG_YIELD="${KTASK_DEBUG_YIELD:-0}" \
	KTASK_NO_LOCK_BOOST="${KTASK_NO_LOCK_BOOST:-0}" \
	>/dev/null || die "module build failed"

# --- Initramfs -------------------------------------------------------------
work=$(mktemp -d /tmp/ktask-qemu.XXXXXX)
keep_work=0
cleanup() { [ $keep_work = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,ktask,tests}
cp /bin/busybox "$root/bin/busybox"
# Relative links: "busybox --install -s" makes absolute ones to the host path.
for applet in $("$root/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cp "$here"/ktask.ko "$here"/ktask_test.ko "$here"/ktask_clear.ko \
	"$here"/ktask_torture.ko "$root/ktask/"
i=0
for t in "$@"; do
	i=$((i + 1))
	cp "$t" "$root/tests/$(printf %02d $i)-$(basename "$t")"
	# A dynamic executable brings its loader and libraries, at their paths.
	for lib in $(ldd "$t" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
done

# CPUs 1.. may go offline (CPU 0 cannot); the last node has the last two.
ncpu=$((nodes * 2))
last_node_cpus="$((ncpu - 2)) $((ncpu - 1))"
cat >"$root/init" <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "ktask-guest: \$(nproc) cpus, \$(ls -d /sys/devices/system/node/node[0-9]* | wc -l) nodes"
insmod /ktask/ktask.ko || echo "ktask-guest: insmod ktask.ko failed"
param=/sys/module/ktask/parameters
if [ $prio_bench = 1 ]; then
	insmod /ktask/ktask_test.ko bench_prio=1 && rmmod ktask_test
fi
# The selftests pass with any thread limit: the default, 1 and 2.
for mt in 0 1 2; do
	echo \$mt >\$param/max_threads
	splat=0
	[ \$mt = 0 ] && splat=$splat
	insmod /ktask/ktask_test.ko max_threads=\$mt lockdep_splat=\$splat &&
		rmmod ktask_test
done
echo 0 >\$param/max_threads
insmod /ktask/ktask_clear.ko mib=$clear_mib && rmmod ktask_clear

# Torture while CPUs go offline and come back: one at a time, and every
# third cycle every CPU of the last node, until the torture run ends and at
# least three cycles; every offline and online must succeed.  Then all
# return, and the limits must be those at load.
limits_at_load=\$(cat \$param/limits)
echo "ktask-guest: limits at load: \$limits_at_load"
rm -f /tmp/stop
cycles=0
if [ $hotplug = 1 ]; then
	(
		n=0
		k=0
		# Until the torture run ends, and at least three cycles.
		while [ ! -f /tmp/stop ] || [ \$n -lt 3 ]; do
			n=\$((n + 1))
			if [ \$((n % 3)) = 0 ]; then
				set -- $last_node_cpus
			else
				set -- \$((k % ($ncpu - 1) + 1))
				k=\$((k + 1))
			fi
			for c in "\$@"; do
				echo 0 >/sys/devices/system/cpu/cpu\$c/online ||
					echo "offline cpu\$c" >>/tmp/hp_errors
			done
			[ \$((n % 3)) = 0 ] && cat \$param/limits >/tmp/limits_off
			sleep 0.3
			for c in "\$@"; do
				echo 1 >/sys/devices/system/cpu/cpu\$c/online ||
					echo "online cpu\$c" >>/tmp/hp_errors
			done
			sleep 0.2
			echo \$n >/tmp/cycles
		done
	) &
	hp=\$!
fi
insmod /ktask/ktask_torture.ko secs=$torture_secs threads=4 && rmmod ktask_torture
touch /tmp/stop
if [ $hotplug = 1 ]; then
	wait \$hp
	cycles=\$(cat /tmp/cycles 2>/dev/null || echo 0)
fi
for f in /sys/devices/system/cpu/cpu[0-9]*/online; do echo 1 >\$f; done
limits_now=\$(cat \$param/limits)
echo "KTAP version 1"
echo "1..3"
echo "# \$cycles hotplug cycles during the torture run; \$(nproc) cpus online now"
[ -f /tmp/hp_errors ] && echo "# failed: \$(cat /tmp/hp_errors | tr '\\n' ' ')"
if [ $hotplug = 0 ] || { [ \$cycles -ge 3 ] && [ ! -f /tmp/hp_errors ]; }; then
	echo "ok 1 hotplug_cycles"
else
	echo "not ok 1 hotplug_cycles"
fi
echo "# limits now: \$limits_now"
if [ "\$limits_now" = "\$limits_at_load" ]; then
	echo "ok 2 limits_after_hotplug"
else
	echo "not ok 2 limits_after_hotplug"
fi
# While the last node had no CPU online, it had no helper of its own.
echo "# limits with the last node offline: \$(cat /tmp/limits_off 2>/dev/null)"
if [ $hotplug = 0 ] || grep -q "node$((nodes - 1)) 0\$" /tmp/limits_off; then
	echo "ok 3 limits_follow_offline"
else
	echo "not ok 3 limits_follow_offline"
fi

for t in /tests/*; do
	[ -x "\$t" ] || continue
	name=\${t##*/}
	echo "ktask-guest: running \$name"
	cd /tmp
	timeout $test_timeout "\$t" >/tmp/out 2>&1
	rc=\$?
	cd /
	sed 's/^/user: /' /tmp/out
	if [ \$rc = 0 ]; then
		echo "ktask-user: ok \$name"
	else
		echo "ktask-user: not ok \$name (exit \$rc)"
	fi
done
rmmod ktask || echo "ktask-guest: rmmod ktask failed"
echo "ktask-guest: done"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"

# --- Boot ------------------------------------------------------------------
log=${KTASK_QEMU_LOG:-$work/serial.log}
: >"$log"
mkdir -p "$cache"
# Two vCPUs per node, half the memory each.
numa=()
for ((n = 0; n < nodes; n++)); do
	numa+=(-object "memory-backend-ram,id=mem$n,size=$((2048 / nodes))M"
	       -numa "node,nodeid=$n,cpus=$((2 * n))-$((2 * n + 1)),memdev=mem$n")
done
say "booting (TCG, $ncpu vCPUs, $nodes nodes; at most ${vm_timeout}s), log $log"
start=$(date +%s)
set +e
# One VM at a time on this machine: wait for any other run of this script.
flock "$cache/qemu.lock" \
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
	-accel tcg -smp $ncpu,sockets=$nodes,cores=2,threads=1 -m 2G \
	"${numa[@]}" \
	-kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 printk.time=0 rdinit=/init no_timer_check" \
	-nographic -monitor none -serial "file:$log" -nic none -no-reboot \
	</dev/null >"$work/qemu.out" 2>&1
qemu_rc=$?
set -e
say "QEMU exited $qemu_rc after $(( $(date +%s) - start ))s (not used to judge)"
[ $qemu_rc = 124 ] && say "the VM run timed out"

# --- Verdict ---------------------------------------------------------------
tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //' | grep -Ev '^user: ' |
awk -v nr_user="$#" -v splat="$splat" '
function close_doc() {
	if (!in_doc) return
	if (plan < 0) { print "test-qemu: KTAP document " docs " has no plan"; extra++ }
	else if (seen != plan) { print "test-qemu: KTAP document " docs " planned " plan ", reported " seen; extra++ }
	in_doc = 0
}
/^KTAP version 1$/ { close_doc(); docs++; in_doc = 1; plan = -1; seen = 0; next }
in_doc && /^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
in_doc && /^ok [0-9]+ / { seen++; pass++; if (/# SKIP/) skip++; print; next }
in_doc && /^not ok [0-9]+ / { seen++; fail++; print; next }
in_doc && /^# / { print }
/^ktask-user: ok / { upass++; print; next }
/^ktask-user: not ok / { ufail++; print; next }
/^ktask-guest: done$/ { done = 1 }
/possible circular locking dependency detected/ { splats++; if (splat) next }
splat && /Call Trace:/ { next }
/Kernel panic|BUG:|WARNING:|Oops|Call Trace:/ { crash++; if (crash <= 20) print "test-qemu: " $0 }
/ktask-guest: limits|^# bench_prio/ { print }
END {
	close_doc()
	if (docs < 6) { print "test-qemu: expected 6 KTAP documents (ktask_test three times, ktask_clear, ktask_torture, hotplug), saw " docs + 0; extra++ }
	if (splat && splats != 1) { print "test-qemu: expected one lockdep report, saw " splats + 0; extra++ }
	if (upass + ufail != nr_user) { print "test-qemu: " nr_user " userland tests given, " upass + ufail " reported"; extra++ }
	if (crash) { print "test-qemu: the kernel crashed or warned"; extra++ }
	if (!done) { print "test-qemu: the guest did not finish"; extra++ }
	if (skip) print "test-qemu: " skip " KTAP tests skipped (counted as passed)"
	passed = pass + upass; failed = fail + ufail + extra
	print "kernel: " passed " passed, " failed " failed"
	exit failed ? 1 : 0
}' && rc=0 || rc=$?
if [ $rc != 0 ]; then
	if [ -z "${KTASK_QEMU_LOG:-}" ]; then
		keep_work=1
		say "serial log kept: $log"
	fi
fi
exit $rc
