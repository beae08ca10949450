/* en_machine — which compute path this machine runs, measured once and kept.
 *
 * At start-up (en_machine_install, from the clipbook command and the Lua
 * module) the engine installs the GEMM path per shape class
 * (kernels/cpu/kn_gemm.h) for CLIPBOOK_GEMM=auto: read from this machine's
 * file, or, the first time, measured by kn_gemm_calibrate (~0.3 s) and
 * written there. The file is
 *     $CLIPBOOK_MACHINE_DIR, else $XDG_CACHE_HOME/clipbook, else ~/.cache/clipbook
 *     /machine-<16 hex>.txt
 * where the hex is a hash of what the measurement depends on: the CPU's
 * vendor, model, flags and L2 (kn_cpuid.h), OpenBLAS's kernel family and the
 * thread count at start-up. Per machine, not per checkout: every worktree and
 * build on the machine takes the same choice. Concurrent first runs (make -j
 * starts chapters together) serialise on an flock of machine-<hex>.lock, and
 * the file is written with the atomic writer, so they all read one choice;
 * a file that does not parse is measured again and replaced. Delete it to
 * measure again. CLIPBOOK_GEMM=engine|blas forces a path and reads no file.
 *
 * The choice changes results in the last bits (the paths sum in another
 * order), so en_compute_signature enters every memo key and `clipbook
 * --version` (the report's .engine stamp): results computed on one path are
 * never reused on another, and the appendix's "which path ran" holds for
 * every cached result. */
#ifndef EN_MACHINE_H
#define EN_MACHINE_H

#include "kn_gemm.h"

/* Once per process: what the comment above says. Never fails: when the
 * folder cannot be made or written, the choice is measured for this process
 * and a warning says so. */
void en_machine_install(void);

/* The choice in dir's machine file, measured and written (under the lock)
 * when it is missing or does not parse. *measured: 1 when this call
 * measured. The file's path into path (n bytes) when path is not NULL.
 * 0, or -1 with en_error (the folder cannot be made or locked). */
int en_machine_choose(const char *dir, kn_gemm_choice *c, int *measured, char *path, size_t n);

/* The folder en_machine_install uses (see above); static storage. */
const char *en_machine_dir(void);

/* What the results depend on beyond the code: "gemm small=engine
 * skinny=engine large=engine conv=engine; openblas Haswell", with
 * "conv=engine:im2col" (etc.) when CLIPBOOK_CONV forces a convolution
 * variant (kernels/cpu/kn_conv.h). Static storage; reflects the paths in
 * force now. */
const char *en_compute_signature(void);

/* The machine in words: "AMD EPYC (avx2 fma avx512f ...), L2 1024 KiB". */
const char *en_machine_describe(void);

#endif
