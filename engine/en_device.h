/* en_device — which device the engine computes on, chosen at run time.
 *
 * CLIPBOOK_DEVICE=auto|cpu|cuda (else the profile's `device` field, else
 * auto) picks it once per process; chapters never branch on it:
 *   auto  the GPU when the CUDA back end is built and a device is visible,
 *         else the CPU, with one line on stderr saying why;
 *   cpu   the CPU;
 *   cuda  the GPU, or an error naming what is missing (not built / no device).
 * CLIPBOOK_PRECISION=fp32|tf32|bf16 (or en_device_set_precision) sets the
 * GEMM math on the GPU (fp32 by default; see kernels/cuda/kn_cuda_gemm.cu).
 *
 * Host fallback: an engine op whose kernel the tensor's back end lacks
 * (supports() = 0) runs the CPU kernel on host copies and copies the result
 * back; each such run is counted per kernel (kn_fallback_count) and
 * en_device_report() prints the counts, so a slow path shows.
 */
#ifndef EN_DEVICE_H
#define EN_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "en_tensor.h"

/* "auto", "cpu" or "cuda" (NULL or "": CLIPBOOK_DEVICE, else auto) to a
 * device; -1 with en_error for an unknown name or an unavailable device.
 * With note != NULL, auto's "no GPU" line goes there, else to stderr. */
int en_device_resolve(const char *want, char *note, size_t note_n);
/* Resolve and make it the default device of en_device_default(). */
int en_device_select(const char *want);
en_device en_device_default(void);
const char *en_device_name(en_device d);
/* Parses a device name ("cpu", "cuda"); -1 with en_error otherwise. */
int en_device_parse(const char *name);

/* fp32 | tf32 | bf16; -1 with en_error for another name. */
int en_device_set_precision(const char *name);
const char *en_device_precision(void);

/* Strided device views made dense on the host (en_contiguous). */
uint64_t en_device_gather_count(void);
/* Runs of engine op `op` (an en_op) on host copies: ops with no device path. */
uint64_t en_device_host_op_count(int op);

/* One line: "device cuda (NVIDIA ...), precision tf32, host fallbacks: none"
 * or "... host fallbacks: conv2d 12, pool2d 3". Returns buf. */
char *en_device_report(char *buf, size_t n);

#endif
