#!/bin/sh
# cli.sh - runs the ktask binary as a user would and checks exit codes,
# one-line error messages and the results on disk.
#
#   usage: cli.sh PATH/TO/ktask
set -u
KTASK=$1
TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/ktask-cli.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
FAILED=0

fail() {
	echo "FAIL: $*"
	FAILED=1
}

allocated_kib() {
	echo $(($(stat -c '%b * %B' "$1") / 1024))
}

# expect CODE PATTERN ARGS...: exit code CODE, one line on stderr matching
# PATTERN (or no stderr at all when PATTERN is empty).
expect() {
	code=$1 pattern=$2
	shift 2
	"$KTASK" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne "$code" ]; then
		fail "ktask $*: exit $rc, expected $code"; cat "$TMP/err"
	elif [ -z "$pattern" ] && [ "$lines" -ne 0 ]; then
		fail "ktask $*: unexpected stderr"; cat "$TMP/err"
	elif [ -n "$pattern" ] && { [ "$lines" -ne 1 ] ||
			! grep -q -- "$pattern" "$TMP/err"; }; then
		fail "ktask $*: stderr not one line matching '$pattern'"
		cat "$TMP/err"
	else
		echo "ok: ktask $* -> $rc"
	fi
}

# Help and usage errors: exit 2.
expect 0 '' --help
grep -q 'usage: ktask' "$TMP/out" || fail "--help prints no usage"
expect 2 'invalid size' clear 4Q
expect 2 'invalid size' clear 0
expect 2 'invalid size' clear -- -5M
expect 2 'size too large' populate 99E
expect 2 'invalid thread count' --threads 0 clear 1M
expect 2 'invalid size' --min-chunk 1.5M clear 1M
expect 2 'unknown command' frobnicate
expect 2 'missing LENGTH' fallocate "$TMP/f"
expect 2 'too many arguments' clear 1M 2M
expect 2 'apply to populate only' clear --mlock 1M
expect 2 'apply to clear only' populate --thp 1M
expect 2 'makes no sense' demo --serial
expect 2 'a size cannot be negative' clear -1
expect 2 'a size cannot be negative' populate -5M
expect 2 'unknown option' clear --frobnicate
expect 2 "needs an argument (try 'ktask populate --help')" populate --file
expect 2 "needs an argument (try 'ktask --help')" --threads
expect 2 'applies to clear, populate and fallocate -d only' fallocate --force "$TMP/f" 1M
expect 2 'contradict' populate --read --write --file /etc/hostname

# SUBCOMMAND --help: that subcommand's own help, on stdout.
for cmd in clear populate fallocate evict demo; do
	"$KTASK" "$cmd" --help >"$TMP/out" 2>&1 || fail "$cmd --help: exit $?"
	head -n 1 "$TMP/out" | grep -q "usage: ktask .*$cmd" ||
		fail "$cmd --help: $(head -n 1 "$TMP/out")"
done
"$KTASK" --help populate >"$TMP/out"
grep -q -- '--write' "$TMP/out" || fail "--help populate does not describe --write"

# --json: a failure is one JSON object on stdout too.
json_error() {
	code=$1
	shift
	"$KTASK" --json "$@" >"$TMP/json" 2>/dev/null
	rc=$?
	[ "$rc" -eq "$code" ] || fail "--json $*: exit $rc, expected $code"
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["exit_code"] == int(sys.argv[2]) and d["error"], d' "$TMP/json" "$code" ||
		fail "--json $*: no JSON error object: $(cat "$TMP/json")"
}
json_error 1 fallocate "$TMP/no/such/dir" 1M
json_error 2 clear 4Q
json_error 2 clear -1
json_error 1 evict "$TMP/missing"
# An error in an option before --json is JSON too, and so is no command.
json_error 2 --bogus evict "$TMP/missing"
json_error 2 -t 0 clear
"$KTASK" --json >"$TMP/json" 2>/dev/null
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["exit_code"] == 2' \
	"$TMP/json" || fail "--json with no command: $(cat "$TMP/json")"
# A name that is not UTF-8: valid JSON, the byte escaped.
"$KTASK" --json evict "$(printf '%s/bad\377name' "$TMP")" >"$TMP/json" 2>/dev/null
python3 -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert "bad\\xffname" in d["error"], d' \
	"$TMP/json" || fail "--json of a non-UTF-8 name: $(cat "$TMP/json")"
# ... and told apart from a name whose text is a backslash, "xff": the
# error is the message as on stderr, where that backslash is doubled
# (both read bad\xffname once).
"$KTASK" --json evict "$TMP/bad\\xffname" >"$TMP/json" 2>/dev/null
python3 -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); assert "bad\\\\xffname" in d["error"], d' \
	"$TMP/json" || fail "--json of a name with a backslash: $(cat "$TMP/json")"
echo "ok: --json errors are JSON objects"
# residency and populate --files share evict's walk, not its name.
"$KTASK" residency "$TMP/missing" 2>&1 | grep -q "^ktask: residency: .*missing: No such" ||
	fail "residency names itself: $("$KTASK" residency "$TMP/missing" 2>&1)"
"$KTASK" populate --files "$TMP/missing" 2>&1 | grep -q "^ktask: populate: .*missing: No such" ||
	fail "populate --files names itself: $("$KTASK" populate --files "$TMP/missing" 2>&1)"
# --version
"$KTASK" --version | grep -q '^ktask [0-9][0-9.]*$' || fail "--version: $("$KTASK" --version)"
"$KTASK" -V --json | python3 -c 'import json, sys; assert json.load(sys.stdin)["version"]' ||
	fail "--version --json"

# A name with a newline is escaped: one error, one line.
expect 1 'No such file or directory' evict "$TMP/two
lines"
grep -q 'two\\nlines' "$TMP/err" || fail "newline in a name not escaped: $(cat "$TMP/err")"

# Runtime errors: exit 1, nothing left behind.
expect 1 'No such file or directory' evict "$TMP/missing"
expect 1 'No such file or directory' populate --file "$TMP/missing"
expect 1 'No such file or directory' fallocate "$TMP/no/such/dir" 1M
expect 1 'Is a directory' fallocate "$TMP" 1M
free=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
if [ "${free:-0}" -eq 0 ]; then
	expect 1 'not enough hugetlb pages' clear --hugetlb 4M
fi

# Permission denied: as an unprivileged user, in a directory of root's.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$TMP"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$KTASK" fallocate "$TMP/denied" 1M 2>&1)
	rc=$?
	case "$rc:$out" in
	1:*"Permission denied"*) echo "ok: permission denied -> 1" ;;
	*) fail "permission denied: exit $rc: $out" ;;
	esac
	[ -e "$TMP/denied" ] && fail "permission denied left a file"
fi

# Results: the file has its blocks; the memory commands succeed.
expect 0 '' --quiet fallocate "$TMP/f" 8M
set -- $(stat -c '%s %b %B' "$TMP/f")
[ "$1" -eq 8388608 ] || fail "fallocate: size $1"
[ $(($2 * $3)) -ge 8388608 ] || fail "fallocate: only $(($2 * $3)) bytes allocated"
expect 0 '' --threads 2 --min-chunk 1M clear 8M
expect 0 '' --serial clear --thp 8M
expect 0 '' populate --read 8M
expect 0 '' populate --mlock --touch 8M
expect 0 '' populate --file "$TMP/f"

# An injected failure through the command line: the new file is removed.
KTASK_TEST_FAIL_AT=3M expect 1 'no file created' --min-chunk 1M fallocate "$TMP/g" 8M
[ -e "$TMP/g" ] && fail "failed fallocate left $TMP/g"
KTASK_TEST_FAIL_AT=3M expect 1 'file left as it was' --min-chunk 1M fallocate "$TMP/f" 16M
[ "$(stat -c %s "$TMP/f")" -eq 8388608 ] || fail "failed fallocate changed the size"
unset KTASK_TEST_FAIL_AT

# fallocate(1)'s options: the same bytes, size and allocation as
# util-linux fallocate on a copy (where the filesystem has the mode).
falloc_same() {
	what=$1
	shift
	cmp -s "$TMP/k" "$TMP/u" || fail "fallocate $what: bytes differ from fallocate(1)'s"
	[ "$(stat -c %s "$TMP/k")" -eq "$(stat -c %s "$TMP/u")" ] ||
		fail "fallocate $what: size $(stat -c %s "$TMP/k"), fallocate(1): $(stat -c %s "$TMP/u")"
	[ "$(stat -c %b "$TMP/k")" -eq "$(stat -c %b "$TMP/u")" ] ||
		fail "fallocate $what: $(stat -c %b "$TMP/k") blocks, fallocate(1): $(stat -c %b "$TMP/u")"
}
if command -v fallocate >/dev/null; then
	head -c 8388608 /dev/urandom >"$TMP/data"
	dd if=/dev/zero of="$TMP/data" bs=1M seek=3 count=2 conv=notrunc status=none
	for args in "-o 1M -l 2M" "-n -o 6M -l 4M" "-p -o 1M -l 2M" "-z -o 7M -l 2M" "-d" "-d -o 4M -l 2M"; do
		cp "$TMP/data" "$TMP/k"
		cp "$TMP/data" "$TMP/u"
		# shellcheck disable=SC2086
		fallocate $args "$TMP/u" 2>/dev/null || continue
		# shellcheck disable=SC2086
		expect 0 '' --quiet fallocate $args "$TMP/k"
		falloc_same "$args"
	done
	rm -f "$TMP/k" "$TMP/u"
	"$KTASK" --quiet fallocate -o 1M -l 2M "$TMP/new" >/dev/null
	[ "$(stat -c %s "$TMP/new")" -eq 3145728 ] || fail "fallocate -o 1M -l 2M: size $(stat -c %s "$TMP/new")"
	"$KTASK" --quiet fallocate -n "$TMP/newn" 1M >/dev/null
	[ "$(stat -c %s "$TMP/newn")" -eq 0 ] && [ "$(allocated_kib "$TMP/newn")" -ge 1024 ] ||
		fail "fallocate -n of a new file: size $(stat -c %s "$TMP/newn")"
	rm -f "$TMP/new" "$TMP/newn" "$TMP/data"
fi
expect 2 'missing LENGTH' fallocate -p "$TMP/x"
expect 2 'exclude each other' fallocate -p -z "$TMP/x" 1M
expect 2 'apply to fallocate only' evict -o 1M "$TMP"

# --verbose names the phases of the whole job, which the time covers.
"$KTASK" -v --quiet fallocate "$TMP/ph" 1M | grep -q '^  phases: hole scan .* s (.* holes), allocation' ||
	fail "fallocate -v: no phases: $("$KTASK" -v --quiet fallocate "$TMP/ph" 1M)"
"$KTASK" -v evict "$TMP/ph" | grep -q '^  phases: walk .* s, open and check .* s, eviction' ||
	fail "evict -v: no phases"
"$KTASK" -v --quiet populate --file "$TMP/ph" | grep -q '^  phases: open, hole scan and map' ||
	fail "populate --file -v: no phases"
rm -f "$TMP/ph"

# One file is "1 file"; evict moves no data, so no GB/s.
head -c 4096 /dev/zero >"$TMP/one"
"$KTASK" evict "$TMP/one" >"$TMP/out" || fail "evict of one file failed"
grep -q '^evict: 1 file (4.00 KiB) in .*, 1 thread, chunk 1 file$' "$TMP/out" ||
	fail "evict of one file: $(cat "$TMP/out")"
grep -q 'GB/s' "$TMP/out" && fail "evict reports GB/s"
"$KTASK" --json evict "$TMP/one" >"$TMP/json"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["gb_per_s"] is None and d["method"], d' \
	"$TMP/json" || fail "evict --json: $(cat "$TMP/json")"
"$KTASK" --verbose clear 4M >"$TMP/out" || fail "clear --verbose failed"
grep -q '^  method: memset, ' "$TMP/out" || fail "--verbose prints no method: $(cat "$TMP/out")"

# JSON is one parseable object with the right size.
"$KTASK" --json clear 4M >"$TMP/json" || fail "clear --json failed"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["bytes"] == 4 << 20, d' \
	"$TMP/json" || fail "clear --json: bad JSON"

# evict: fincore sees no cached page afterwards (not on tmpfs).
if [ "$(stat -f -c %T "$TMP")" != tmpfs ] && command -v fincore >/dev/null; then
	mkdir "$TMP/d"
	for i in 1 2 3 4 5 6; do
		head -c 1048576 /dev/urandom >"$TMP/d/$i"
	done
	cat "$TMP/d/"* >/dev/null
	expect 0 '' --min-chunk 2 evict "$TMP/d"
	pages=$(fincore -n -o PAGES "$TMP/d/"* | awk '{ s += $1 } END { print s }')
	# POSIX_FADV_DONTNEED drops what it can: a page another CPU still
	# holds in its LRU batch, or that a neighbouring test's reclaim or
	# readahead touches, may stay.  Of 1536 pages, keeping a few is not
	# a failure to evict; keeping most would be.
	[ "$pages" -le 32 ] || fail "evict: $pages of 1536 pages still cached"
	[ "$pages" -eq 0 ] || echo "note: evict left $pages of 1536 pages cached"
fi

exit $FAILED
