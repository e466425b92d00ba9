// SPDX-License-Identifier: MIT
/*
 * util.c - what every subcommand does the same way: time a job, report
 * it, and print errors as one line on stderr.  A leaf: it calls no other
 * part of the command (run.c runs the task with a progress bar).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static char first_error[4096];

/* The length of the valid UTF-8 sequence at @s (no overlongs, no
 * surrogates), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
	    (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

/**
 * tool_escape() - copies @s with control characters, backslashes and
 * bytes that are not UTF-8 escaped (\n, \t, \\, \xNN), so that a file
 * name cannot break a message into several lines or hide part of it.
 * @s: the text.
 * @buf: where to write; always terminated.
 * @len: room in @buf.
 */
void tool_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	char e[8];

	for (; *s && n + 1 < len; s++) {
		unsigned char c = *s;
		size_t u = utf8_len((const unsigned char *)s);

		if (u > 1) {
			if (n + u >= len)
				break;
			memcpy(buf + n, s, u);
			n += u;
			s += u - 1;
			continue;
		}
		if (!u)
			snprintf(e, sizeof(e), "\\x%02x", c);
		else if (c == '\n')
			snprintf(e, sizeof(e), "\\n");
		else if (c == '\t')
			snprintf(e, sizeof(e), "\\t");
		else if (c == '\\')
			snprintf(e, sizeof(e), "\\\\");
		else if (c < 0x20 || c == 0x7f)
			snprintf(e, sizeof(e), "\\x%02x", c);
		else
			e[0] = c, e[1] = '\0';
		if (n + strlen(e) >= len)
			break;
		memcpy(buf + n, e, strlen(e));
		n += strlen(e);
	}
	buf[n] = '\0';
}

static void tool_message(const char *cmd, const char *fmt, va_list ap,
			 bool error)
{
	char msg[2048], line[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	tool_escape(msg, line, sizeof(line));
	fprintf(stderr, "%s: %s%s%s\n", TOOL_NAME, cmd ? cmd : "",
		cmd ? ": " : "", line);
	/* Escaped as on stderr: in JSON a name's byte 0xff (\xff) and its
	 * text "\xff" (\\xff) then stay apart. */
	if (error && !first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", line);
}

/**
 * tool_error() - prints "ktask: CMD: message" as one line on stderr.
 * @cmd: the subcommand, or NULL for the command as a whole.
 * @fmt: printf format of the message, without a trailing newline.
 *
 * Control characters in the message (from file names) are escaped, so an
 * error is always one line.  The first error is kept for --json.
 */
void tool_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_message(cmd, fmt, ap, true);
	va_end(ap);
}

/* Like tool_error(), for something the user should know that is no error. */
void tool_note(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tool_message(cmd, fmt, ap, false);
	va_end(ap);
}

/* The first error printed, unescaped, or "" if none was. */
const char *tool_first_error(void)
{
	return first_error;
}

/*
 * Writes @s as a JSON string, quotes included.  JSON text is UTF-8: a
 * byte of a file name that is not valid UTF-8 is written as the four
 * characters \xNN (as in the messages), the backslash escaped.
 */
void tool_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;

		n = utf8_len(p);
		if (!n) {
			fprintf(f, "\\\\x%02x", c);
			p++;
			continue;
		}
		if (n > 1)
			fwrite(p, 1, n, f);
		else if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
		p += n;
	}
	fputc('"', f);
}

/* "file" or "files", for @n of them. */
const char *tool_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Seconds on the monotonic clock. */
double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t tool_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

/*
 * The tests' pauses: when the variable @env is set to N > 0, writes @line
 * to stderr and sleeps N ms.  A test script waits for the line and acts
 * meanwhile, as another process may at that point.
 */
static void test_pause(const char *env, const char *line)
{
	const char *s = getenv(env);
	struct timespec ts;
	long ms;

	if (!s || (ms = strtol(s, NULL, 10)) <= 0)
		return;
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = ms % 1000 * 1000000L;
	while (nanosleep(&ts, &ts))
		;
}

/**
 * tool_test_before_lease() - the tests' hook just before a lease is taken.
 *
 * KTASK_TEST_BEFORE_LEASE_MS=N: "ktask: test: before the lease", then N
 * ms in which the test writes into the file.  Not documented for users.
 */
void tool_test_before_lease(void)
{
	test_pause("KTASK_TEST_BEFORE_LEASE_MS",
		   TOOL_NAME ": test: before the lease\n");
}

/**
 * tool_test_in_undo() - the tests' hook after an undo's first punch.
 *
 * KTASK_TEST_PAUSE_UNDO_MS=N: "ktask: test: paused in the undo", then N
 * ms between two undo steps, in which the test opens the file or stops
 * the job.  Only the first call pauses.  Not documented for users.
 */
void tool_test_in_undo(void)
{
	static atomic_bool done;

	if (getenv("KTASK_TEST_PAUSE_UNDO_MS") && !atomic_exchange(&done, true))
		test_pause("KTASK_TEST_PAUSE_UNDO_MS",
			   TOOL_NAME ": test: paused in the undo\n");
}

/**
 * tool_test_fail_at() - the tests' failure injection hook.
 * @offset: set to the byte offset from KTASK_TEST_FAIL_AT.
 *
 * The tests set KTASK_TEST_FAIL_AT=<offset> to make the chunk of a
 * fallocate task that holds that offset fail with ENOSPC part way, which
 * no filesystem does on demand.  It is not documented for users.
 *
 * Return: 1 if the hook is set to a valid offset, else 0.
 */
int tool_test_fail_at(off_t *offset)
{
	const char *s = getenv("KTASK_TEST_FAIL_AT");
	size_t v;

	if (!s || size_parse(s, &v) || (off_t)v < 0)
		return 0;
	*offset = (off_t)v;
	return 1;
}

static void tool_report_json(const struct tool_result *r)
{
	printf("{\"command\":\"%s\",\"what\":", r->command);
	tool_json_string(stdout, r->what);
	printf(",\"method\":");
	tool_json_string(stdout, r->method);
	printf(",\"kernel_ktask\":%s,\"units\":%zu,\"unit\":\"%s\","
	       "\"bytes\":%zu,\"seconds\":%.6f,\"gb_per_s\":",
	       r->kernel_ktask ? "true" : "false", r->units, r->unit, r->bytes,
	       r->seconds);
	if (r->moves_data)
		printf("%.3f", r->seconds > 0 ? r->bytes / r->seconds / 1e9 :
						0.0);
	else
		printf("null");
	printf(",\"threads\":%zu,\"helpers\":%zu,\"chunk\":%zu",
	       r->stats.ks_threads, r->stats.ks_helpers,
	       r->stats.ks_chunk_size);
	if (!strcmp(r->command, "evict") || !strcmp(r->command, "residency"))
		printf(",\"skipped\":%zu,\"pages\":%zu", r->skipped,
		       r->pages);
	if (!strcmp(r->command, "residency"))
		printf(",\"resident_pages\":%zu", r->resident);
	if (r->create)
		printf(",\"create\":\"%s\"", r->create);
	if (r->undo)
		printf(",\"undo\":\"%s\"", r->undo);
	if (r->sharing[0]) {
		printf(",\"sharing\":");
		tool_json_string(stdout, r->sharing);
	}
	if (r->phases[0]) {
		printf(",\"phases\":");
		tool_json_string(stdout, r->phases);
	}
	printf("}\n");
}

/**
 * tool_report() - prints what a run did: one line, or one JSON object.
 * @o: the options (--json, --verbose).
 * @r: the result.
 *
 * A rate in GB/s is printed only for jobs that move data; evict and an
 * allocation on a disk filesystem do not, so they get none (files/s for
 * evict).  --verbose adds the method and why it was chosen.
 */
void tool_report(const struct tool_opts *o, const struct tool_result *r)
{
	char sz[32], chunk[32];
	double secs = r->seconds > 0 ? r->seconds : 1e-9;
	size_t threads = r->stats.ks_helpers + 1;

	if (o->json) {
		tool_report_json(r);
		return;
	}
	size_format(r->bytes, sz, sizeof(sz));
	if (!strcmp(r->unit, "bytes")) {
		size_format(r->stats.ks_chunk_size, chunk, sizeof(chunk));
		printf("%s: %s %s in %.3f s", r->command, sz, r->what,
		       r->seconds);
		if (r->moves_data)
			printf(" (%.2f GB/s)", r->bytes / secs / 1e9);
	} else {
		snprintf(chunk, sizeof(chunk), "%zu %s",
			 r->stats.ks_chunk_size,
			 tool_plural(r->stats.ks_chunk_size, "file", "files"));
		printf("%s: %zu %s (%s) in %.3f s (%.0f files/s)", r->command,
		       r->units, tool_plural(r->units, "file", "files"), sz,
		       r->seconds, r->units / secs);
		if (!strcmp(r->command, "residency"))
			printf(", %zu/%zu pages resident (%.0f%%)",
			       r->resident, r->pages, r->pages ?
			       100.0 * r->resident / r->pages : 100.0);
	}
	printf(", %zu %s, chunk %s\n", threads,
	       tool_plural(threads, "thread", "threads"), chunk);
	if (o->verbose && r->method[0])
		printf("  method: %s\n", r->method);
	if (o->verbose && r->sharing[0])
		printf("  file: %s\n", r->sharing);
	if (o->verbose && r->phases[0])
		printf("  phases: %s\n", r->phases);
	if (o->verbose && r->kernel_ktask)
		printf("  kernel: ktask is built into this kernel, so one "
		       "fallocate(2) on hugetlbfs is already parallel\n");
}

/**
 * tool_check_opts() - refuses options and arguments a subcommand doesn't take.
 * @cmd: the subcommand.
 * @o: the options.
 * @allowed: the TOOL_OPT_* bits the subcommand takes.
 * @argc: its positional arguments.
 * @min_args: the fewest it takes.
 * @max_args: the most it takes, or -1 for no limit.
 *
 * Return: 0, or 2 (the usage error exit code) after printing why.
 */
int tool_check_opts(const char *cmd, const struct tool_opts *o,
		    unsigned int allowed, int argc, int min_args, int max_args)
{
	if (o->given & ~allowed & TOOL_OPT_MEM) {
		tool_error(cmd, "--thp and --hugetlb apply to clear only");
		return 2;
	}
	if (o->given & ~allowed & TOOL_OPT_POP) {
		tool_error(cmd, "--mlock, --read, --touch, --write and --file "
			   "apply to populate only");
		return 2;
	}
	if (o->given & ~allowed & TOOL_OPT_EVICT) {
		tool_error(cmd, "-x, --one-file-system, --cross-mounts and "
			   "--dry-run apply to evict and residency only");
		return 2;
	}
	if (o->given & ~allowed & TOOL_OPT_FALLOC) {
		tool_error(cmd, "-o, -l, -n, -p, -z and -d apply to fallocate "
			   "only");
		return 2;
	}
	if (o->given & ~allowed & TOOL_OPT_FORCE) {
		tool_error(cmd, "--force applies to clear, populate and "
			   "fallocate -d only");
		return 2;
	}
	if (argc < min_args) {
		tool_error(cmd, "missing argument (see ktask --help)");
		return 2;
	}
	if (max_args >= 0 && argc > max_args) {
		tool_error(cmd, "too many arguments (see ktask --help)");
		return 2;
	}
	return 0;
}

/**
 * tool_parse_size() - reads a size argument, refusing 0 and bad text.
 * @cmd: the subcommand, for the error.
 * @s: the text.
 * @size: set on success.
 *
 * Return: 0, or 2 (the usage error exit code) after printing why.
 */
int tool_parse_size(const char *cmd, const char *s, size_t *size)
{
	int err = size_parse(s, size);

	if (err == -ERANGE) {
		tool_error(cmd, "size too large: '%s'", s);
		return 2;
	}
	if (s[0] == '-') {
		tool_error(cmd, "invalid size '%s': a size cannot be negative "
			   "(examples: 4096, 512M, 4G)", s);
		return 2;
	}
	if (err || !*size) {
		tool_error(cmd, "invalid size '%s' (examples: 4096, 512M, 4G)",
			   s);
		return 2;
	}
	return 0;
}

/**
 * tool_reopen() - opens the file of descriptor @fd again.
 * @fd: any descriptor, O_PATH ones too; left open.
 * @flags: the open flags (O_CLOEXEC and O_NOCTTY are added).
 *
 * Through /proc/self/fd: the same inode, whatever its name is now, and
 * whatever kind of file the name leads to meanwhile.  The directory is
 * opened once and kept, so each call is one lookup of the number rather
 * than four components from / (with 5000 files that cost evict 45 ms of
 * 105).
 *
 * Return: the new descriptor, or a negative errno: -ENOENT without /proc.
 */
int tool_reopen(int fd, int flags)
{
	static atomic_int proc_fd = -1;	/* /proc/self/fd, opened once */
	int dir = atomic_load(&proc_fd), was = -1, nfd;
	char name[16];

	if (dir < 0) {
		dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			return -ENOENT;
		if (!atomic_compare_exchange_strong(&proc_fd, &was, dir)) {
			close(dir);
			dir = was;
		}
	}
	snprintf(name, sizeof(name), "%d", fd);
	nfd = openat(dir, name, flags | O_CLOEXEC | O_NOCTTY);
	return nfd < 0 ? -errno : nfd;
}

/* What a failed tool_open_regular() says, after the file's name. */
const char *tool_open_error(int err)
{
	return err == -EBADF ? "not a regular file" : strerror(-err);
}

/**
 * tool_open_regular() - opens @path only if it is a regular file.
 * @path: the file; a symbolic link to it is followed, as by fallocate(1).
 * @flags: O_RDONLY or O_RDWR (O_CLOEXEC, O_NOCTTY are added).
 * @st: set to the file's status.
 *
 * An open has effects of its own on what is not a regular file: a FIFO's
 * blocked writer or reader is let go (its data lost, or an early end of
 * file), a device's driver acts (a tape rewinds, a watchdog arms).  So
 * the name is opened with O_PATH, which does none of that, checked with
 * fstat(2), and the same inode opened for real through /proc/self/fd
 * (tool_reopen()), so that a name swapped in between changes nothing.  Without /proc, the
 * name again, and -ESTALE if it is no longer the same file.
 *
 * Return: the descriptor, or a negative errno: -EISDIR for a directory,
 * -EBADF for another file that is not regular.
 */
int tool_open_regular(const char *path, int flags, struct stat *st)
{
	struct stat now;
	int pfd, fd, err;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, st)) {
		err = -errno;
		close(pfd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(pfd);
		return S_ISDIR(st->st_mode) ? -EISDIR : -EBADF;
	}
	fd = tool_reopen(pfd, flags);
	if (fd == -ENOENT) {
		fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			fd = -errno;
	}
	close(pfd);
	if (fd < 0)
		return fd;
	if (fstat(fd, &now) || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino) {
		close(fd);
		return -ESTALE;
	}
	/* O_NONBLOCK, where the name was opened again, was for that alone. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*st = now;
	return fd;
}
