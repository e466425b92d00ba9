#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
#
# test-qemu.sh - builds ktask.ko and its test modules against Debian's
# kernel headers, boots the matching Debian kernel in QEMU (TCG, 4 vCPUs,
# 2 NUMA nodes, no network) with a busybox initramfs, loads the modules,
# runs any static userland test executables given, and powers off.
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
# Environment: KDIR (headers to build against; default: the ones the
# linux-headers-amd64 package depends on), KTASK_QEMU_CACHE (where kernel
# images are kept), KTASK_QEMU_TIMEOUT (seconds for the whole VM run, 600),
# KTASK_GUEST_TEST_TIMEOUT (seconds per userland test in the guest, 300),
# KTASK_CLEAR_MIB (size ktask_clear.ko clears, 256), KTASK_TORTURE_SECS
# (how long ktask_torture.ko runs, 15), KTASK_DEBUG_YIELD (1: build ktask.ko
# with the debug-yield delays), KTASK_QEMU_LOG (serial log file;
# default in a temporary directory, kept on failure).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KTASK_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ktask-qemu}
vm_timeout=${KTASK_QEMU_TIMEOUT:-600}
test_timeout=${KTASK_GUEST_TEST_TIMEOUT:-300}
clear_mib=${KTASK_CLEAR_MIB:-256}
torture_secs=${KTASK_TORTURE_SECS:-15}

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
if [ -z "${KDIR:-}" ]; then
	hdr=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
	      sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p')
	KDIR=/usr/src/$hdr
fi
[ -f "$KDIR/include/generated/utsrelease.h" ] || die "no kernel headers in $KDIR"
release=$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	  "$KDIR/include/generated/utsrelease.h")
[ -n "$release" ] || die "cannot read the kernel release of $KDIR"
say "headers $KDIR, kernel $release"

vmlinuz=$cache/$release/vmlinuz
if [ ! -s "$vmlinuz" ]; then
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

cat >"$root/init" <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "ktask-guest: \$(nproc) cpus, \$(ls -d /sys/devices/system/node/node[0-9]* | wc -l) nodes"
insmod /ktask/ktask.ko || echo "ktask-guest: insmod ktask.ko failed"
insmod /ktask/ktask_test.ko && rmmod ktask_test
insmod /ktask/ktask_clear.ko mib=$clear_mib && rmmod ktask_clear
insmod /ktask/ktask_torture.ko secs=$torture_secs threads=4 && rmmod ktask_torture
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
say "booting (TCG, 4 vCPUs, 2 nodes; at most ${vm_timeout}s), log $log"
start=$(date +%s)
set +e
# One VM at a time on this machine: wait for any other run of this script.
flock "$cache/qemu.lock" \
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
	-accel tcg -smp 4,sockets=2,cores=2,threads=1 -m 2G \
	-object memory-backend-ram,id=mem0,size=1G \
	-object memory-backend-ram,id=mem1,size=1G \
	-numa node,nodeid=0,cpus=0-1,memdev=mem0 \
	-numa node,nodeid=1,cpus=2-3,memdev=mem1 \
	-kernel "$vmlinuz" -initrd "$work/initramfs.gz" \
	-append "console=ttyS0 panic=-1 oops=panic panic_on_warn=1 printk.time=0 rdinit=/init" \
	-nographic -monitor none -serial "file:$log" -nic none -no-reboot \
	</dev/null >"$work/qemu.out" 2>&1
qemu_rc=$?
set -e
say "QEMU exited $qemu_rc after $(( $(date +%s) - start ))s (not used to judge)"
[ $qemu_rc = 124 ] && say "the VM run timed out"

# --- Verdict ---------------------------------------------------------------
tr -d '\r' <"$log" | sed 's/^\[ *[0-9.]*\] //' | grep -Ev '^user: ' |
awk -v nr_user="$#" '
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
/Kernel panic|BUG:|WARNING:|Oops|Call Trace:/ { crash++; if (crash <= 20) print "test-qemu: " $0 }
END {
	close_doc()
	if (docs < 3) { print "test-qemu: expected 3 KTAP documents (ktask_test, ktask_clear, ktask_torture), saw " docs + 0; extra++ }
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
