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
};

static const struct tool_cmd tool_cmds[] = {
	{ "clear", cmd_clear },
	{ "populate", cmd_populate },
	{ "fallocate", cmd_fallocate },
	{ "evict", cmd_evict },
	{ "demo", cmd_demo },
};

enum {
	OPT_MIN_CHUNK = 0x100,
	OPT_THP,
	OPT_HUGETLB,
	OPT_MLOCK,
	OPT_READ,
	OPT_TOUCH,
	OPT_FILE,
	OPT_QUIET,
};

static const struct option tool_long_opts[] = {
	{ "threads", required_argument, NULL, 't' },
	{ "min-chunk", required_argument, NULL, OPT_MIN_CHUNK },
	{ "serial", no_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "help", no_argument, NULL, 'h' },
	{ "thp", no_argument, NULL, OPT_THP },
	{ "hugetlb", no_argument, NULL, OPT_HUGETLB },
	{ "mlock", no_argument, NULL, OPT_MLOCK },
	{ "read", no_argument, NULL, OPT_READ },
	{ "touch", no_argument, NULL, OPT_TOUCH },
	{ "file", required_argument, NULL, OPT_FILE },
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
	      "                         print times and speedups\n"
	      "  clear [SIZE]           allocate SIZE (default 1G) and zero it\n"
	      "  populate [SIZE]        prefault SIZE (default 1G, or the file)\n"
	      "  fallocate FILE LENGTH  allocate FILE's blocks, all or nothing\n"
	      "  evict FILE...|DIR...   drop the page cache of files\n"
	      "\n"
	      "options:\n"
	      "  -t, --threads N        use at most N threads (default: all CPUs)\n"
	      "      --min-chunk SIZE   least work per chunk (files for evict)\n"
	      "  -s, --serial           one thread, for comparison\n"
	      "  -j, --json             print the result as JSON\n"
	      "      --quiet            no progress bar\n"
	      "  -h, --help             print this help\n"
	      "clear:     --thp (transparent huge pages), --hugetlb\n"
	      "populate:  --file FILE (map FILE), --read (prefault readable),\n"
	      "           --mlock (lock the pages), --touch (touch, no madvise)\n"
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

/* Handles one option; returns 0, or the exit code to stop with. */
static int tool_option(struct tool_opts *o, int c, const char *arg)
{
	switch (c) {
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
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_THP:
	case OPT_HUGETLB:
		o->mem = c == OPT_THP ? TOOL_MEM_THP : TOOL_MEM_HUGETLB;
		o->given |= TOOL_OPT_MEM;
		return 0;
	case OPT_MLOCK:
	case OPT_READ:
	case OPT_TOUCH:
	case OPT_FILE:
		o->mlock |= c == OPT_MLOCK;
		o->read |= c == OPT_READ;
		o->touch |= c == OPT_TOUCH;
		if (c == OPT_FILE)
			o->file = arg;
		o->given |= TOOL_OPT_POP;
		return 0;
	}
	/* getopt_long() has printed what was wrong. */
	fputs("Try 'ktask --help'.\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	struct tool_opts o = { 0 };
	bool help = false;
	size_t i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "t:sjh", tool_long_opts,
				NULL)) != -1) {
		if (c == 'h') {
			help = true;
			continue;
		}
		ret = tool_option(&o, c, optarg);
		if (ret)
			return ret;
	}
	if (help) {
		tool_usage(stdout);
		return 0;
	}
	if (optind == argc) {
		tool_usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(tool_cmds) / sizeof(tool_cmds[0]); i++)
		if (!strcmp(argv[optind], tool_cmds[i].name))
			return tool_cmds[i].fn(&o, argc - optind - 1,
					       argv + optind + 1);
	tool_error(NULL, "unknown command '%s' (try 'ktask --help')",
		   argv[optind]);
	return 2;
}
