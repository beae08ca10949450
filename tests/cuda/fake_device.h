/* fake_device — a "device" for the engine's device paths on any machine:
 * the CPU back end's kernels behind an allocator whose memory is
 * mprotect'ed PROT_NONE except while one of the fake's own functions runs,
 * so any host read or write of device memory by engine code is a SIGSEGV.
 * Installed as the EN_CUDA back end (kn_backend_register). */
#ifndef FAKE_DEVICE_H
#define FAKE_DEVICE_H

#include <stdint.h>

#include "kn_backend.h"

/* Installs the fake with every kernel; resets the fallback counts. */
void fake_install(void);
void fake_remove(void);
/* Which kernels the fake claims (supports()); the others fall back. */
void fake_set_kernel(kn_kernel k, int on);
void fake_set_all(int on);
/* Live fake allocations; calls of kernel k's functions. */
int fake_live_count(void);
int fake_calls(kn_kernel k);
/* Sum of kn_fallback_count over every kernel. */
uint64_t fake_fallbacks_total(void);

#endif
