/* en_autograd — reverse-mode differentiation on a tape, and the parameter
 * registry optimisers step over.
 *
 * While grad mode is on (the default), every op whose inputs include a
 * tensor that requires grad appends a node to a global tape (inputs,
 * output, saved values). en_backward(loss) walks the tape from the end,
 * seeds d loss = 1 and calls each op's backward; then it clears the tape.
 *
 * Gradient rule (the same for every op, see en_ops.h): gradients of leaves
 * (parameters and inputs marked with en_requires_grad) ACCUMULATE (+=)
 * across backward calls until zeroed (en_params_zero_grad, en_zero_grad);
 * gradients of activations are WRITTEN (=) by their first consumer in the
 * backward pass and accumulated by later ones (fan-out), then freed when the
 * tape is cleared.
 *
 * The tape is process-global and not thread-safe: record from one thread
 * (ops themselves run threaded inside).
 *
 * On a device (en_tensor_to, en_clip_to) the tape records the device ops
 * as it does the CPU's: gradients are allocated on the tensor's device and
 * every backward runs that device's kernels, so nothing crosses to the host
 * (an op that would run on host copies with a gradient needed aborts
 * instead, naming the op: its gradient would be lost).
 *
 * Parameters live in one flat f32 buffer with a parallel flat gradient
 * buffer, carved by a size table: each parameter is a view at an offset, so
 * an optimiser steps over en_params_data/en_params_grad as single arrays.
 */
#ifndef EN_AUTOGRAD_H
#define EN_AUTOGRAD_H

#include "en_tensor.h"

/* ---- grad mode ---------------------------------------------------------- */
int  en_grad_enabled(void);
/* Sets the mode; returns the previous one (restore it to end a scope):
 *     int prev = en_grad_set_enabled(0); ... en_grad_set_enabled(prev);  */
int  en_grad_set_enabled(int on);
#define EN_NO_GRAD_BEGIN int en__prev_grad_ = en_grad_set_enabled(0)
#define EN_NO_GRAD_END   en_grad_set_enabled(en__prev_grad_)

/* Marks t as a leaf that wants a gradient (its grad accumulates). */
void en_requires_grad(en_tensor *t, int on);
int  en_tensor_requires_grad(const en_tensor *t);
/* The gradient of t (borrowed; NULL when none was computed). */
en_tensor *en_tensor_grad(const en_tensor *t);
void en_zero_grad(en_tensor *t);

/* ---- tape --------------------------------------------------------------- */
/* Backward from a one-element tensor; clears the tape. -1 + en_error when
 * loss is not a scalar or was not recorded. */
int    en_backward(en_tensor *loss);
/* Same, seeding d loss = grad (same shape as out). */
int    en_backward_with(en_tensor *out, const en_tensor *grad);
/* Drops every recorded node (and the activation grads) without backward. */
void   en_tape_clear(void);
size_t en_tape_len(void);

/* ---- parameter registry ------------------------------------------------- */
typedef struct en_params en_params;

en_params *en_params_new(void);
void       en_params_free(en_params *p);
/* Adds a zero-initialised parameter (requires grad) named `name` (copied);
 * returns a borrowed tensor owned by the registry (retain to keep it past
 * en_params_free). NULL + en_error on a duplicate name. The flat buffers
 * may move while parameters are added: take raw pointers afterwards. */
en_tensor *en_params_add(en_params *p, const char *name, int ndim, const int64_t *shape);
int        en_params_count(const en_params *p);
en_tensor *en_params_get(const en_params *p, int i);          /* borrowed */
const char *en_params_name(const en_params *p, int i);
int64_t    en_params_offset(const en_params *p, int i);      /* into the flat buffers */
en_tensor *en_params_find(const en_params *p, const char *name); /* NULL when absent */
int64_t    en_params_numel(const en_params *p);              /* total floats */
float     *en_params_data(en_params *p);                     /* flat, numel floats */
float     *en_params_grad(en_params *p);                     /* flat, numel floats */
/* The same flat buffers on whichever device they are (en_params_to): the
 * back end's pointers, for that device's kernels (the optimiser's
 * en_adamw_to); host pointers on the CPU. */
float     *en_params_data_on(en_params *p);
float     *en_params_grad_on(en_params *p);
en_device  en_params_device(const en_params *p);
void       en_params_zero_grad(en_params *p);
/* Moves the flat buffers (values and gradients) to dev; every parameter
 * tensor (and its grad view) follows in place, so pointers to them stay
 * valid. 0, or -1 with en_error (device not available, out of memory:
 * then nothing moved). en_params_data/_grad are host pointers: only on the CPU. */
int        en_params_to(en_params *p, en_device dev);

#endif
