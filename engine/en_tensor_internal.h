/* en_tensor_internal — what en_tensor.c shares with the view ops
 * (en_views.c), not for callers of tensors. */
#ifndef EN_TENSOR_INTERNAL_H
#define EN_TENSOR_INTERNAL_H

#include "en_tensor.h"

/* A new header over t's storage (referenced), with t's dtype and offset;
 * the caller sets ndim, shape and strides. Held by the active arena, like
 * every tensor made while one is pushed. */
en_tensor *en_tensor_view(en_tensor *t);
/* Row-major strides of a dense tensor of this shape. */
void en_dense_strides(int nd, const int64_t *shape, int64_t *st);
/* t's strides set to the row-major ones of its shape. */
void en_tensor_set_dense_strides(en_tensor *t);
/* dst (= or, with acc, +=) src over shape, each side with its own strides. */
void en_nd_copy_f32(float *dst, const int64_t *ds, const float *src, const int64_t *ss,
                    int nd, const int64_t *shape, int acc);

/* Moves t's whole storage to dev in place (t's offset and strides kept):
 * a new storage there, the data copied, the old one released by t. Other
 * views of the old storage keep it. Heap storage only, no active arena.
 * -1 with en_error when dev is not available or out of memory. */
int en_tensor_move_(en_tensor *t, en_device dev);
/* t's storage replaced by base's (referenced); t keeps offset and strides. */
void en_tensor_share_(en_tensor *t, const en_tensor *base);

#endif
