// SPDX-License-Identifier: MIT
/*
 * ktask.c - the ktask command: options, subcommands, help.
 *
 *   ktask [OPTIONS] COMMAND [ARGS]
 *
 * Options may come before or after the command.  The options every
 * subcommand takes apply in tool_run(); the few that belong to one
 * subcommand are refused by the others, so that a misplaced --mlock is an
 * error rather than silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct tool_cmd {
	const char *name;
	int (*fn)(struct tool_opts *o, int argc, char **argv);
	const char *help;
};

static const struct tool_cmd tool_cmds[] = {
	{ "clear", cmd_clear,
	  "usage: ktask [OPTIONS] clear [--thp|--hugetlb] [--force] [SIZE]\n"
	  "\n"
	  "Map SIZE (default 1G) of anonymous memory, zero it in parallel\n"
	  "(which faults it in) and check that it reads back as zero.\n"
	  "\n"
	  "  --thp      ask for transparent huge pages\n"
	  "  --hugetlb  use reserved hugetlb pages (/proc/sys/vm/nr_hugepages)\n"
	  "  --force    go on even if SIZE is more than the memory this\n"
	  "             process may use (MemAvailable, memory cgroup limit)\n" },
	{ "populate", cmd_populate,
	  "usage: ktask [OPTIONS] populate [--file FILE] [--read|--write]\n"
	  "                        [--mlock] [--touch] [--force] [SIZE]\n"
	  "       ktask [OPTIONS] populate --files [--lock [--daemon]\n"
	  "                        [--pidfile FILE]] PATH...\n"
	  "\n"
	  "Prefault SIZE (default 1G) of anonymous memory, or FILE mapped\n"
	  "shared (its whole length unless SIZE is given; never extended).\n"
	  "\n"
	  "  --file FILE  populate FILE.  By default nothing is written: data\n"
	  "               is read into the page cache; on tmpfs and hugetlbfs\n"
	  "               the holes are also allocated (undone on failure)\n"
	  "  --read       only read: holes stay holes, nothing is allocated\n"
	  "  --write      write-fault every page: allocates holes, marks every\n"
	  "               page dirty (a disk file is written back in full and\n"
	  "               its mtime changes)\n"
	  "  --mlock      lock the pages in memory\n"
	  "  --touch      touch one byte per page instead of MADV_POPULATE_*\n"
	  "  --force      go on even if SIZE is more than the memory this\n"
	  "               process may use (MemAvailable, memory cgroup limit)\n"
	  "  --files      read every regular file of each PATH (a file or a\n"
	  "               directory, walked as evict does, same filters) into\n"
	  "               the page cache, in parallel, as vmtouch -t\n"
	  "  --lock       --files: also lock them in memory and stay, until\n"
	  "               SIGINT or SIGTERM, as vmtouch -l\n"
	  "  --daemon     --lock in the background; --pidfile FILE names it\n" },
	{ "fallocate", cmd_fallocate,
	  "usage: ktask [OPTIONS] fallocate [-o OFFSET] [-n] [-p|-z|-d]\n"
	  "                         [-l LENGTH] FILE [LENGTH]\n"
	  "\n"
	  "Allocate the blocks of FILE's bytes [OFFSET, OFFSET + LENGTH),\n"
	  "creating it if needed, all or nothing.  A new file is built unnamed\n"
	  "(O_TMPFILE) and appears only when complete.  An existing file grows\n"
	  "only at the end; on failure or SIGINT/SIGTERM what was allocated is\n"
	  "released while ktask holds a lease on it (no other process has it\n"
	  "open); otherwise it is kept, and the message says so.\n"
	  "tmpfs, ext4, xfs: fallocate(2) in one thread (the inode lock makes\n"
	  "it fastest).  hugetlbfs: huge pages faulted in by several threads\n"
	  "(LENGTH rounded up to whole huge pages).  --verbose says which.\n"
	  "\n"
	  "  -o, --offset OFFSET  start there (default 0)\n"
	  "  -l, --length LENGTH  the length, as the LENGTH argument\n"
	  "  -n, --keep-size      leave the file size as it is\n"
	  "  -p, --punch-hole     make the range a hole (implies -n)\n"
	  "  -z, --zero-range     zero the range, allocated\n"
	  "  -d, --dig-holes      make blocks of zeroes holes, in parallel\n"
	  "                       (whole file without LENGTH; needs a lease on\n"
	  "                       the file, or --force)\n"
	  "  --force              -d without a lease\n"
	  "-p and -z change data by design and are not undone, as\n"
	  "fallocate(1).\n" },
	{ "evict", cmd_evict,
	  "usage: ktask [OPTIONS] evict [-x|--cross-mounts] FILE...|DIR...\n"
	  "\n"
	  "Drop the page cache of each FILE and of every regular file under\n"
	  "each DIR.  Dirty pages are written back first (no flush of the\n"
	  "device cache; nothing is written for a clean file).  Every file's\n"
	  "read permission is checked before any is evicted.  Symbolic links\n"
	  "under DIR are not followed; files that vanish or change during the\n"
	  "walk are skipped with a warning.\n"
	  "\n"
	  "  -x, --one-file-system  stay on each DIR's mount (the default)\n"
	  "      --cross-mounts     walk into other filesystems mounted below\n"
	  "      --dry-run          list the files that would be evicted\n"
	  "      --max-size SIZE    skip files larger than SIZE\n"
	  "      --include PATTERN  only files whose name matches (fnmatch;\n"
	  "                         may be given up to 16 times)\n"
	  "      --exclude PATTERN  skip files and directories whose name\n"
	  "                         matches (up to 16 times)\n"
	  "      --files-from FILE  also the paths in FILE, one a line; '-'\n"
	  "                         (or a FILE argument '-') reads stdin\n"
	  "--min-chunk counts files.\n" },
	{ "residency", cmd_residency,
	  "usage: ktask [OPTIONS] residency [-x|--cross-mounts] FILE...|DIR...\n"
	  "\n"
	  "Count the pages of each FILE and of every regular file under each\n"
	  "DIR that are in the page cache (mincore(2), in parallel), and in\n"
	  "total; --verbose lists each file, as vmtouch -v.  Walks as evict.\n" },
	{ "demo", cmd_demo,
	  "usage: ktask [--threads N] [--json] demo\n"
	  "\n"
	  "Run each command on a small built-in size, serially and with\n"
	  "ktask, and print times, speedups and the method of each row.\n" },
};

enum {
	OPT_MIN_CHUNK = 0x100,
	OPT_THP,
	OPT_HUGETLB,
	OPT_MLOCK,
	OPT_READ,
	OPT_TOUCH,
	OPT_WRITE,
	OPT_FILE,
	OPT_QUIET,
	OPT_FORCE,
	OPT_CROSS_MOUNTS,
	OPT_DRY_RUN,
	OPT_MAX_SIZE,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_FILES_FROM,
	OPT_FILES,
	OPT_LOCK,
	OPT_DAEMON,
	OPT_PIDFILE,
};

/* The fallocate(1) options, as short options of fallocate only. */
#define FALLOC_SHORT "o:npzdl:"

static const struct option tool_long_opts[] = {
	{ "threads", required_argument, NULL, 't' },
	{ "min-chunk", required_argument, NULL, OPT_MIN_CHUNK },
	{ "serial", no_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "thp", no_argument, NULL, OPT_THP },
	{ "hugetlb", no_argument, NULL, OPT_HUGETLB },
	{ "mlock", no_argument, NULL, OPT_MLOCK },
	{ "read", no_argument, NULL, OPT_READ },
	{ "touch", no_argument, NULL, OPT_TOUCH },
	{ "write", no_argument, NULL, OPT_WRITE },
	{ "file", required_argument, NULL, OPT_FILE },
	{ "one-file-system", no_argument, NULL, 'x' },
	{ "cross-mounts", no_argument, NULL, OPT_CROSS_MOUNTS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "include", required_argument, NULL, OPT_INCLUDE },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "files-from", required_argument, NULL, OPT_FILES_FROM },
	{ "files", no_argument, NULL, OPT_FILES },
	{ "lock", no_argument, NULL, OPT_LOCK },
	{ "daemon", no_argument, NULL, OPT_DAEMON },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "offset", required_argument, NULL, 'o' },
	{ "length", required_argument, NULL, 'l' },
	{ "keep-size", no_argument, NULL, 'n' },
	{ "punch-hole", no_argument, NULL, 'p' },
	{ "zero-range", no_argument, NULL, 'z' },
	{ "dig-holes", no_argument, NULL, 'd' },
	{ NULL, 0, NULL, 0 },
};

static void tool_usage(FILE *f)
{
	fputs("usage: ktask [OPTIONS] COMMAND [ARGS]\n"
	      "\n"
	      "Do big memory and file jobs in parallel with libktask.\n"
	      "\n"
	      "commands:\n"
	      "  demo                   run each command serially and with ktask;\n"
	      "                         print times, speedups and methods\n"
	      "  clear [SIZE]           allocate SIZE (default 1G) and zero it\n"
	      "  populate [SIZE]        prefault SIZE (default 1G, or the file)\n"
	      "  fallocate FILE LENGTH  allocate FILE's blocks, all or nothing\n"
	      "  evict FILE...|DIR...   drop the page cache of files\n"
	      "  residency FILE...|DIR...  pages of files in the page cache\n"
	      "\n"
	      "options:\n"
	      "  -t, --threads N        use at most N threads (default: all CPUs)\n"
	      "      --min-chunk SIZE   least work per chunk (files for evict)\n"
	      "  -s, --serial           one thread, for comparison\n"
	      "  -j, --json             print the result (or the error) as JSON\n"
	      "  -v, --verbose          say which method was used, and why\n"
	      "      --quiet            no progress bar\n"
	      "  -h, --help             print this help (COMMAND --help: its own)\n"
	      "  -V, --version          print the version\n"
	      "clear:     --thp (transparent huge pages), --hugetlb, --force\n"
	      "populate:  --file FILE (map FILE), --read, --write, --mlock,\n"
	      "           --touch (touch, no madvise), --force\n"
	      "fallocate: -o OFFSET, -l LENGTH, -n (keep size), -p (punch),\n"
	      "           -z (zero range), -d (dig holes), --force (-d)\n"
	      "evict:     -x/--one-file-system (default), --cross-mounts,\n"
	      "           --dry-run, --max-size, --include, --exclude,\n"
	      "           --files-from (also residency)\n"
	      "\n"
	      "SIZE takes K, M, G, T suffixes (powers of 1024): 4G, 512M.\n"
	      "See ktask(1).\n", f);
}

static int tool_parse_threads(const char *s, size_t *threads)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || !v) {
		tool_error(NULL, "invalid thread count '%s'", s);
		return 2;
	}
	*threads = v;
	return 0;
}

/* evict's and residency's --max-size, --include, --exclude, --files-from. */
static int tool_walk_option(struct tool_opts *o, int c, const char *arg)
{
	size_t v;
	int ret;

	o->given |= TOOL_OPT_EVICT;
	switch (c) {
	case OPT_MAX_SIZE:
		ret = tool_parse_size(NULL, arg, &v);
		o->max_size = ret ? 0 : (off_t)v;
		return ret;
	case OPT_INCLUDE:
	case OPT_EXCLUDE:
		if ((c == OPT_INCLUDE ? o->nr_include : o->nr_exclude) == 16) {
			tool_error(NULL, "at most 16 --include and 16 "
				   "--exclude patterns");
			return 2;
		}
		if (c == OPT_INCLUDE)
			o->include[o->nr_include++] = arg;
		else
			o->exclude[o->nr_exclude++] = arg;
		return 0;
	}
	o->files_from = arg;
	return 0;
}

/* -o OFFSET (0 allowed) and -l LENGTH of fallocate. */
static int tool_parse_offset(int c, const char *arg, struct tool_opts *o)
{
	size_t v;
	int err = c == 'l' ? tool_parse_size("fallocate", arg, &v) :
		  size_parse(arg, &v);

	if (err > 0)
		return err;
	if (err || arg[0] == '-' || (off_t)v < 0) {
		tool_error("fallocate", "invalid %s '%s'", c == 'o' ? "offset" :
			   "length", arg);
		return 2;
	}
	if (c == 'o')
		o->offset = (off_t)v;
	else
		o->length = (off_t)v;
	o->given |= TOOL_OPT_FALLOC;
	return 0;
}

/* Handles one option; returns 0, the exit code to stop with, or -1 for
 * an option getopt_long() did not know or that lacks its argument. */
static int tool_option(struct tool_opts *o, int c, const char *arg)
{
	switch (c) {
	case '?':
	case ':':
		return -1;
	case 't':
		return tool_parse_threads(arg, &o->threads);
	case OPT_MIN_CHUNK:
		return tool_parse_size(NULL, arg, &o->min_chunk);
	case 's':
		o->serial = true;
		return 0;
	case 'j':
		o->json = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case OPT_FORCE:
		o->force = true;
		o->given |= TOOL_OPT_FORCE;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case 'o':
	case 'l':
		return tool_parse_offset(c, arg, o);
	case 'n':
		o->keep_size = true;
		o->given |= TOOL_OPT_FALLOC;
		return 0;
	case 'p':
	case 'z':
	case 'd':
		if (o->falloc_mode && o->falloc_mode != c) {
			tool_error("fallocate", "--punch-hole, --zero-range and "
				   "--dig-holes exclude each other");
			return 2;
		}
		o->falloc_mode = c;
		o->keep_size |= c == 'p';	/* as fallocate(1): -p implies -n */
		o->given |= TOOL_OPT_FALLOC;
		return 0;
	case OPT_DRY_RUN:
		o->evict_mode = 'n';
		o->given |= TOOL_OPT_EVICT;
		return 0;
	case OPT_MAX_SIZE:
	case OPT_INCLUDE:
	case OPT_EXCLUDE:
	case OPT_FILES_FROM:
		return tool_walk_option(o, c, arg);
	case 'x':
	case OPT_CROSS_MOUNTS:
		o->cross_mounts = c == OPT_CROSS_MOUNTS;
		o->given |= TOOL_OPT_EVICT;
		return 0;
	case OPT_THP:
	case OPT_HUGETLB:
		o->mem = c == OPT_THP ? TOOL_MEM_THP : TOOL_MEM_HUGETLB;
		o->given |= TOOL_OPT_MEM;
		return 0;
	case OPT_FILES:
	case OPT_LOCK:
	case OPT_DAEMON:
	case OPT_PIDFILE:
		o->files |= c == OPT_FILES;
		o->lock |= c == OPT_LOCK;
		o->daemon |= c == OPT_DAEMON;
		if (c == OPT_PIDFILE)
			o->pidfile = arg;
		o->given |= TOOL_OPT_POP;
		return 0;
	case OPT_MLOCK:
	case OPT_READ:
	case OPT_TOUCH:
	case OPT_WRITE:
	case OPT_FILE:
		o->mlock |= c == OPT_MLOCK;
		o->read |= c == OPT_READ;
		o->touch |= c == OPT_TOUCH;
		o->write |= c == OPT_WRITE;
		if (c == OPT_FILE)
			o->file = arg;
		o->given |= TOOL_OPT_POP;
		return 0;
	}
	return -1;	/* the caller says what was wrong */
}

static const struct tool_cmd *tool_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(tool_cmds) / sizeof(tool_cmds[0]); i++)
		if (!strcmp(name, tool_cmds[i].name))
			return &tool_cmds[i];
	return NULL;
}

/* The subcommand named anywhere on the line, for messages and help. */
static const struct tool_cmd *tool_cmd_in(int argc, char **argv)
{
	const struct tool_cmd *cmd;
	int i;

	for (i = 1; i < argc; i++)
		if (argv[i][0] != '-' && (cmd = tool_find_cmd(argv[i])))
			return cmd;
	return NULL;
}

/*
 * Says what getopt_long() found wrong.  A negative number is taken for an
 * option by getopt ("clear -1"): say that sizes cannot be negative.
 */
static int tool_bad_option(int c, int argc, char **argv)
{
	const struct tool_cmd *cmd = tool_cmd_in(argc, argv);
	const char *name = cmd ? cmd->name : NULL;
	int i;

	for (i = 1; i < argc; i++)
		if (argv[i][0] == '-' && argv[i][1] >= '0' &&
		    argv[i][1] <= '9') {
			tool_error(name, "invalid size '%s': a size cannot be "
				   "negative (examples: 4096, 512M, 4G)",
				   argv[i]);
			return 2;
		}
	if (c == ':')
		tool_error(name, "option '%s' needs an argument (try 'ktask "
			   "%s%s--help')", argv[optind - 1],
			   name ? name : "", name ? " " : "");
	else if (optopt)
		tool_error(name, "unknown option '-%c' (try 'ktask %s%s"
			   "--help')", optopt, name ? name : "",
			   name ? " " : "");
	else
		tool_error(name, "unknown option '%s' (try 'ktask %s%s"
			   "--help')", argv[optind - 1], name ? name : "",
			   name ? " " : "");
	return 2;
}

/* With --json, a failure is also one JSON object on stdout. */
static int tool_exit(const struct tool_opts *o, const char *cmd, int ret)
{
	if (!ret || !o->json)
		return ret;
	printf("{\"command\":");
	tool_json_string(stdout, cmd ? cmd : "");
	printf(",\"error\":");
	tool_json_string(stdout, tool_first_error()[0] ? tool_first_error() :
			 "failed");
	printf(",\"exit_code\":%d}\n", ret);
	return ret;
}

/*
 * Whether --json is anywhere among the options, so that an error in an
 * option before it is JSON too.  Stops at "--"; -j may share a dash with
 * other flags (-sj); the argument of -t or --min-chunk is skipped.
 */
static bool tool_wants_json(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--json"))
			return true;
		if (!strcmp(a, "-t") || !strcmp(a, "--threads") ||
		    !strcmp(a, "--min-chunk") || !strcmp(a, "--file") ||
		    !strcmp(a, "-o") || !strcmp(a, "--offset") ||
		    !strcmp(a, "-l") || !strcmp(a, "--length") ||
		    !strcmp(a, "--max-size") || !strcmp(a, "--include") ||
		    !strcmp(a, "--exclude") || !strcmp(a, "--files-from") ||
		    !strcmp(a, "--pidfile")) {
			i++;
			continue;
		}
		if (a[0] == '-' && a[1] != '-' &&
		    strspn(a + 1, "sjvhxVnpzd") == strlen(a + 1) &&
		    strchr(a + 1, 'j'))
			return true;
	}
	return false;
}

static int tool_version(const struct tool_opts *o)
{
	if (o->json)
		printf("{\"command\":\"version\",\"version\":\"%s\"}\n",
		       KTASK_VERSION);
	else
		printf("ktask %s\n", KTASK_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	struct tool_opts o = { .length = -1 };
	const struct tool_cmd *cmd;
	bool help = false, version = false;
	int c, ret;

	opterr = 0;
	o.json = tool_wants_json(argc, argv);
	while ((c = getopt_long(argc, argv, ":t:sjvhxV" FALLOC_SHORT, tool_long_opts,
				NULL)) != -1) {
		if (c == 'h' || c == 'V') {
			help |= c == 'h';
			version |= c == 'V';
			continue;
		}
		ret = tool_option(&o, c, optarg);
		if (ret < 0)
			ret = tool_bad_option(c, argc, argv);
		if (ret) {
			cmd = tool_cmd_in(argc, argv);
			return tool_exit(&o, cmd ? cmd->name : NULL, ret);
		}
	}
	cmd = optind < argc ? tool_find_cmd(argv[optind]) : NULL;
	if (help) {
		if (cmd)
			fputs(cmd->help, stdout);
		else
			tool_usage(stdout);
		return 0;
	}
	if (version)
		return tool_version(&o);
	if (optind == argc) {
		if (o.json) {
			tool_error(NULL, "no command given (try 'ktask --help')");
			return tool_exit(&o, NULL, 2);
		}
		tool_usage(stderr);
		return 2;
	}
	if (!cmd) {
		tool_error(NULL, "unknown command '%s' (try 'ktask --help')",
			   argv[optind]);
		return tool_exit(&o, NULL, 2);
	}
	ret = cmd->fn(&o, argc - optind - 1, argv + optind + 1);
	return tool_exit(&o, cmd->name, ret);
}
