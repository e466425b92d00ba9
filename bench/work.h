/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * work.h - the CPU work the workloads hand to the peers, calibrated so that
 * sizes can be given in microseconds of serial work on this machine.
 */
#ifndef BENCH_WORK_H
#define BENCH_WORK_H

#include <stddef.h>
#include <stdint.h>

/* Spins @iters rounds of integer mixing; the compiler cannot skip them. */
uint64_t work_burn(uint64_t seed, uint64_t iters);

/* Measures how many work_burn() rounds take one microsecond here. */
void work_calibrate(void);

/*
 * The calibration, to pass to other processes: every process of one run
 * must do the same number of rounds, or their times would not compare.
 */
double work_get_calibration(void);
void work_set_calibration(double iters_per_us);

/* Rounds of work_burn() in @us microseconds (at least 1). */
uint64_t work_iters_per_us(double us);

/*
 * A range function for the peers: work_burn() rounds per unit of
 * [@lo, @hi), as many as the uint64_t @iters points to.
 */
void work_range(size_t lo, size_t hi, void *iters);

/* Keeps a result alive so the work that made it is not optimised away. */
void work_sink(uint64_t v);

#endif /* BENCH_WORK_H */
