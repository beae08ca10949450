/* en_opdef — what an op's implementation needs (not for callers of ops).
 *
 * A recorded op is a node on the tape: its inputs and output (referenced),
 * up to EN_NODE_SAVED saved tensors (e.g. layer norm's mean and rstd), and a
 * few integer/float arguments. Backward gets the output's gradient as a
 * dense float array in the output's shape and asks en_node_grad() for each
 * input's gradient buffer, dense in that input's shape, with the gradient
 * rule's write-or-add flag (see en_ops.h). See en_ops.h "How to add an op".
 */
#ifndef EN_OPDEF_H
#define EN_OPDEF_H

#include "en_autograd.h"
#include "en_ops.h"
#include "kn_backend.h"

#define EN_NODE_SAVED 3
#define EN_NODE_IARGS (EN_MAX_DIMS * 2 + 4)

typedef struct en_node {
    en_op op;
    int nin;
    en_tensor **in;                   /* nin references */
    en_tensor *out;                   /* reference */
    en_tensor *saved[EN_NODE_SAVED];  /* references or NULL */
    int64_t iarg[EN_NODE_IARGS];
    float farg[4];
    en_tensor *in_small[4];           /* storage for `in` when nin <= 4 */
} en_node;

typedef void (*en_backward_fn)(en_node *n, const float *gout);

typedef struct {
    en_op op;
    const char *name;
    en_backward_fn backward;
} en_op_info;

extern const en_op_info en_op_table[EN_OP_COUNT];

/* Appends a node when grad mode is on and some input requires grad; marks
 * out as requiring grad. Returns NULL (nothing to save) otherwise. Takes
 * its own references to out and the inputs. */
en_node *en_tape_record(en_op op, en_tensor *out, int nin, en_tensor *const *in);

/* Gradient buffer of input i, dense in its shape, or NULL when that input
 * needs no gradient. *acc = 1: add into it; 0: overwrite it (fresh,
 * uninitialised memory). On the input's device: a device node's backward
 * gets the gradient of its output (g) and these buffers as back-end
 * pointers (en_dev_f32), for the kernels of en_backend_of(n->out). */
float *en_node_grad(en_node *n, int i, int *acc);
/* nbytes of p set to 0 on dev (memset on the CPU, the back end's memzero). */
void en_dev_memzero(en_device dev, float *p, size_t nbytes);

/* The back end serving tensor t (its storage's device). */
const kn_backend *en_backend_of(const en_tensor *t);

/* ---- device ops (en_tensor.c) ----------------------------------------------
 * An op on device tensors passes en_tensor_data() pointers to
 * en_backend_of(); when that back end lacks the kernel (supports() = 0) it
 * runs the CPU kernel on host copies: en_device_host() gives a host copy
 * (the tensor itself on the CPU), en_device_upload_() writes a host result
 * into the device tensor, and kn_fallback_note() counts the run. */
en_tensor *en_device_host(en_tensor *t);
void en_device_upload_(en_tensor *dst, const en_tensor *host);
/* A dense device copy of a strided device view, by way of the host
 * (counted: en_device_gather_count in en_device.h). */
en_tensor *en_device_gather(en_tensor *t);
/* The first device (not EN_CPU) among n tensors (NULL entries skipped), or EN_CPU. */
en_device en_device_of(int n, en_tensor *const *ts);
/* An op without a device path ran on host copies of its inputs: its host
 * result r moves to dev (r released; NULL passes through) and the run is
 * counted under the op (en_device_host_op_count). Usage, at the top of the
 * op: with dev = en_device_of(...) != EN_CPU, call the op itself on
 * en_device_host() copies and return en_device_result(op, result, dev). */
en_tensor *en_device_result(en_op op, en_tensor *r, en_device dev);
/* The device path of an op (every operand moved to the op's device, the
 * kernels of that device's back end, the result on it):
 * en_device_empty() makes an output on dev (EN_CPU: en_tensor_new; out of
 * device memory aborts, the message naming the size is on stderr and in
 * en_error_msg); en_device_dense() gives t dense on dev (t itself, retained,
 * when it already is; NULL passes through); en_dev_f32()/en_dev_i64() are
 * the back end's pointers of a tensor on any device (NULL for NULL), for
 * that tensor's back end only; en_device_lacks() answers 1 when dev's back
 * end has no kernel k and counts the run (kn_fallback_note): the op then
 * calls itself on en_device_host() copies and en_device_back() moves the
 * host result to dev (r released; NULL passes through). */
en_tensor *en_device_empty(en_device dev, en_dtype dt, int nd, const int64_t *shape);
en_tensor *en_device_dense(en_tensor *t, en_device dev);
float *en_dev_f32(const en_tensor *t);
int64_t *en_dev_i64(const en_tensor *t);
int en_device_lacks(en_device dev, kn_kernel k);
en_tensor *en_device_back(en_tensor *r, en_device dev);
/* Every op that runs on host copies of device tensors (a kernel the device
 * lacks, or an op with no device path) calls it first: it aborts with a
 * message when grad mode is on and one of the n tensors requires grad,
 * since the host copies would drop the gradient silently. */
void en_device_grad_guard(en_op op, int n, en_tensor *const *ts);
/* t on dev for an op running there (en_tensor_to: t itself, retained, when
 * it is there already). A copy from another device is not on the tape, so
 * one that requires grad (a parameter left on the CPU) aborts with a
 * message when grad mode is on: move the model (en_clip_to). */
en_tensor *en_device_operand(en_op op, en_tensor *t, en_device dev);
/* dst (dense, dshape) (=|+=) the sum of src (dense, sshape) over the
 * broadcast dims, on dev with its kernels (copy_nd, reduce_sum): the order
 * of en_reduce_to, so the same bits on a device that runs the CPU's
 * kernels. */
void en_reduce_to_dev(en_device dev, float *dst, int dnd, const int64_t *dshape, const float *src,
                      int snd, const int64_t *sshape, int acc);

/* dst (dense, shape dshape) (=|+=) sum of src (dense, shape sshape) over the
 * broadcast dims: dshape must broadcast to sshape. */
void en_reduce_to(float *dst, int dnd, const int64_t *dshape, const float *src, int snd,
                  const int64_t *sshape, int acc);

/* The innermost active arena, or NULL. */
en_arena *en_arena_active(void);
/* Reallocates t's storage to nbytes (contents kept, growth zeroed); every
 * view of it follows. Heap storage only. */
void en_storage_resize(en_tensor *t, size_t nbytes);

/* ---- backward functions, one per op (en_op_table) ------------------------ */
void en_reshape_backward(en_node *n, const float *g);
void en_permute_backward(en_node *n, const float *g);
void en_slice_backward(en_node *n, const float *g);
void en_expand_backward(en_node *n, const float *g);
void en_contiguous_backward(en_node *n, const float *g);
void en_binary_backward(en_node *n, const float *g);   /* add sub mul div */
void en_scalar_backward(en_node *n, const float *g);   /* add/mul/pow scalar */
void en_unary_backward(en_node *n, const float *g);    /* exp ... tanh */
void en_sum_backward(en_node *n, const float *g);
void en_max_backward(en_node *n, const float *g);
void en_softmax_backward(en_node *n, const float *g);  /* softmax, log-softmax */
void en_layer_norm_backward(en_node *n, const float *g);
void en_l2_normalize_backward(en_node *n, const float *g);
void en_matmul_backward(en_node *n, const float *g);
void en_linear_backward(en_node *n, const float *g);
void en_attention_backward(en_node *n, const float *g);
void en_embedding_backward(en_node *n, const float *g);
void en_gather_rows_backward(en_node *n, const float *g);
void en_concat_backward(en_node *n, const float *g);
void en_cross_entropy_backward(en_node *n, const float *g);
void en_mse_backward(en_node *n, const float *g);
void en_bce_logits_backward(en_node *n, const float *g);
/* -- conv ops' backward functions here -- (en_ops_conv.c) */
void en_conv2d_backward(en_node *n, const float *g);
void en_conv_transpose2d_backward(en_node *n, const float *g);
void en_max_pool2d_backward(en_node *n, const float *g);
void en_avg_pool2d_backward(en_node *n, const float *g);
void en_adaptive_avg_pool2d_backward(en_node *n, const float *g);
void en_upsample_backward(en_node *n, const float *g);  /* nearest, bilinear */
void en_batch_norm2d_backward(en_node *n, const float *g);

#endif
