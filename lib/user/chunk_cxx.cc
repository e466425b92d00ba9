// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * chunk_cxx.cc - a helper's chunk under a C++ catch-all.  A thread function
 * that throws on a helper would find no handler on the worker's thread and
 * end the process (std::terminate()).  Here the exception is kept as its
 * task's std::exception_ptr, the chunk fails like one that returned an
 * error (dispatch stops), and the caller rethrows it once every helper
 * stopped (handoff.c, ktask_plat_release_helpers()).  The first exception of
 * a task wins; later ones are dropped, as later error codes are.
 *
 * Built into the library when a C++ compiler is present (KTASK_CXX); the
 * rest of the library is C and calls these three functions only.
 */
#include <cerrno>
#include <exception>
#include <new>

#define KTASK_HIDDEN __attribute__((visibility("hidden")))

extern "C" {

typedef int (*ktask_cxx_func)(void *start, void *end, void *arg);

KTASK_HIDDEN int ktask_cxx_call(ktask_cxx_func func, void *start, void *end,
				void *arg, void **slot) noexcept;
KTASK_HIDDEN void ktask_cxx_drop(void *exc) noexcept;
KTASK_HIDDEN void ktask_cxx_rethrow(void *exc) __attribute__((noreturn));

/*
 * Runs one chunk; on an exception keeps it in *@slot unless one is there
 * already, and returns -ECANCELED (any nonzero value stops the task; the
 * caller rethrows instead of returning it).
 */
int ktask_cxx_call(ktask_cxx_func func, void *start, void *end, void *arg,
		   void **slot) noexcept
{
	try {
		return func(start, end, arg);
	} catch (...) {
		std::exception_ptr *mine =
			new (std::nothrow) std::exception_ptr(
				std::current_exception());
		void *none = nullptr;

		/* Nowhere to keep it: as loud as it would have been. */
		if (!mine)
			std::terminate();
		/* Release: the caller's acquire exchange reads it whole. */
		if (!__atomic_compare_exchange_n(slot, &none, (void *)mine,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			delete mine;
		return -ECANCELED;
	}
}

void ktask_cxx_drop(void *exc) noexcept
{
	delete static_cast<std::exception_ptr *>(exc);
}

void ktask_cxx_rethrow(void *exc)
{
	std::exception_ptr e = *static_cast<std::exception_ptr *>(exc);

	delete static_cast<std::exception_ptr *>(exc);
	std::rethrow_exception(e);
}

} /* extern "C" */
