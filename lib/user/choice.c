// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * choice.c - whether helpers pay for a thread's short tasks.
 *
 * Handing a task to a helper moves a few cache lines from CPU to CPU and
 * back: the assignment, the task's records, the count down.  Each move
 * costs a quarter of a microsecond on the project's VM (tens of
 * nanoseconds on bare metal).  A task whose chunks take less than that is
 * done by its caller before the helper arrives, and still pays for the
 * arrival: back to back, a 2-chunk task of 1024 stores took 2.7 us with a
 * helper and 0.54 us alone there.  The minimum chunk a client gives cannot
 * know the machine, so each thread times its short tasks of each kind
 * (thread function, minimum chunk, size to a power of two) both ways, runs
 * them the faster way, and tries the other way again after 8, 16, ... up
 * to CHOICE_MAX_GAP tasks, since load and placement change which is
 * faster.  A task that took CHOICE_SHORT_NS or more with helpers always
 * gets them: there the hand-off is noise, and a helper needs a few tasks
 * to learn a periodic caller's rhythm (worker.c).
 *
 * All of it is the calling thread's own: four slots in thread-local
 * storage, no lock, one clock read at each end of a timed task.
 * KTASK_ALONE=0 turns it off: every task that can have helpers gets them.
 */
#include "pool.h"

#define CHOICE_SLOTS 4
#define CHOICE_SHORT_NS 10000u
#define CHOICE_FIRST_GAP 8
#define CHOICE_MAX_GAP 1024
#define CHOICE_FORCE 6

struct ktask_choice {
	ktask_thread_func ch_func;
	size_t ch_min_chunk;
	unsigned int ch_order;		/* the task's size, log2 */
	uint32_t ch_ns[2];		/* estimates: [0] helpers, [1] alone,
					 * 0 while unknown */
	uint16_t ch_left;		/* tasks before the other way's try */
	uint16_t ch_gap;		/* tasks between such tries */
	uint32_t ch_used;		/* tls_tick at its last task */
	uint32_t ch_gen;		/* kinds the slot has held */
	uint8_t ch_force;		/* tasks that get helpers regardless */
};

static KTASK_TLS struct ktask_choice tls_choices[CHOICE_SLOTS];
static KTASK_TLS uint32_t tls_tick;
/* The thread's innermost call (unwind.c keeps it). */
KTASK_TLS struct ktask_plat_call *ktask_tls_call;

static unsigned int order_of(size_t n)
{
	return (unsigned int)(8 * sizeof(n) - 1) - (unsigned int)__builtin_clzl(n);
}

static bool choice_is(const struct ktask_choice *ch,
		      const struct ktask_ctl *ctl, unsigned int order)
{
	return ch->ch_func == ctl->kc_thread_func &&
	       ch->ch_min_chunk == ctl->kc_min_chunk_size &&
	       ch->ch_order == order;
}

/*
 * The slot of a kind of task: any of the four that holds it, else the one
 * used least recently starts over for it.  (Two of four by a hash let three
 * kinds of one pair evict one another at every task: review/collide.c.)
 */
static struct ktask_choice *choice_slot(const struct ktask_ctl *ctl,
					unsigned int order)
{
	struct ktask_choice *ch = &tls_choices[0];
	int i;

	for (i = 0; i < CHOICE_SLOTS; i++) {
		if (choice_is(&tls_choices[i], ctl, order)) {
			ch = &tls_choices[i];
			break;
		}
		if ((int32_t)(tls_choices[i].ch_used - ch->ch_used) < 0)
			ch = &tls_choices[i];
	}
	ch->ch_used = ++tls_tick;
	if (i == CHOICE_SLOTS) {
		/* A call timing the old kind (nested below) must know. */
		ch->ch_gen++;
		ch->ch_func = ctl->kc_thread_func;
		ch->ch_min_chunk = ctl->kc_min_chunk_size;
		ch->ch_order = order;
		ch->ch_ns[0] = ch->ch_ns[1] = 0;
		ch->ch_gap = CHOICE_FIRST_GAP;
		ch->ch_left = CHOICE_FIRST_GAP;
		ch->ch_force = 0;
	}
	return ch;
}

/* Which way, 0 (helpers) or 1 (alone), the slot's next task runs. */
static int choice_way(struct ktask_choice *ch)
{
	int best;

	if (!ch->ch_ns[0] || ch->ch_ns[0] >= CHOICE_SHORT_NS)
		return 0;
	if (ch->ch_force) {
		ch->ch_force--;
		return 0;
	}
	if (!ch->ch_ns[1])
		return 1;
	best = ch->ch_ns[1] < ch->ch_ns[0];
	if (ch->ch_left) {
		ch->ch_left--;
		return best;
	}
	/* Time for a try of the other way; the next one comes later. */
	ch->ch_left = ch->ch_gap;
	if (ch->ch_gap < CHOICE_MAX_GAP)
		ch->ch_gap *= 2;
	return !best;
}

bool ktask_plat_alone(const struct ktask_node *nodes, size_t nr_nodes,
		      const struct ktask_ctl *ctl)
{
	struct ktask_plat_call *call = ktask_tls_call;
	struct ktask_choice *ch;
	int way;

	/* Several nodes: placement, not timing, decides (and no slot). */
	if (!call || nr_nodes != 1 || !ktask_pool.timed_choice)
		return false;
	ch = choice_slot(ctl, order_of(nodes->kn_task_size));
	way = choice_way(ch);
	call->kpc_choice = ch;
	call->kpc_choice_gen = ch->ch_gen;
	call->kpc_alone = way;
	call->kpc_t0 = mono_ns();
	return way;
}

/*
 * Between the pieces of a task run alone: whether, at its pace so far,
 * the whole would take CHOICE_SHORT_NS or more, the time from which
 * tasks get helpers.  Its time then goes on counting as alone: the
 * estimate learns that this kind's tasks may be long.
 */
bool ktask_plat_alone_overdue(size_t done, size_t total)
{
	struct ktask_plat_call *call = ktask_tls_call;
	int64_t dt;

	if (!call || !call->kpc_choice || !call->kpc_alone)
		return false;
	dt = mono_ns() - call->kpc_t0;
	return (double)dt * (double)total >=
	       (double)CHOICE_SHORT_NS * (double)done;
}

/* At the end of a timed call: the task's time goes into its estimate. */
void ktask_choice_done(struct ktask_plat_call *call)
{
	struct ktask_choice *ch = call->kpc_choice;
	int64_t dt = mono_ns() - call->kpc_t0;
	uint32_t *est, ns;
	int best;

	call->kpc_choice = NULL;
	/* Nested calls of four other kinds took the slot meanwhile. */
	if (ch->ch_gen != call->kpc_choice_gen)
		return;
	if (dt <= 0)
		dt = 1;
	ns = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	est = &ch->ch_ns[call->kpc_alone];
	best = ch->ch_ns[0] && ch->ch_ns[1] ? ch->ch_ns[1] < ch->ch_ns[0] : -1;
	/*
	 * A preempted task is one sample: it moves the estimate, no more.
	 * But after a task alone that took as long as tasks that always get
	 * helpers, the next CHOICE_FORCE tasks of the kind get them: if the
	 * kind's tasks have turned long, their time with helpers reaches
	 * CHOICE_SHORT_NS meanwhile (the estimate grows by 1.75x a task at
	 * most) and they keep them; if it was one preemption, the kind goes
	 * back to the timed choice.  Wrongly alone, a long task costs up to
	 * twice its time; wrongly with helpers, a short one a microsecond or
	 * two.
	 */
	if (call->kpc_alone && ns >= CHOICE_SHORT_NS)
		ch->ch_force = CHOICE_FORCE;
	if (*est && ns / 4 > *est)
		ns = *est * 4;
	*est = *est ? *est - *est / 4 + ns / 4 : ns;
	if (!*est)
		*est = 1;
	/* The other way won: try the old one again soon. */
	if (best >= 0 && best != (ch->ch_ns[1] < ch->ch_ns[0]))
		ch->ch_gap = CHOICE_FIRST_GAP;
}
