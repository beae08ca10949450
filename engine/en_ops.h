/* en_ops — the differentiable operations.
 *
 * Every op takes borrowed tensors and returns a NEW tensor (one reference
 * for the caller), or NULL after en_error() when a user could have caused
 * the failure (shapes that do not match, an axis out of range). Inputs may
 * be any view (non-contiguous, broadcast); outputs are contiguous f32.
 *
 * GRADIENT RULE, for every op: parameter (leaf) gradients accumulate (+=);
 * activation gradients are written (=) by their first consumer in the
 * backward pass, accumulated by the others. A backward kernel is therefore
 * told, per input, whether to write or to add (`acc`, like BLAS's beta).
 *
 * Broadcasting follows NumPy: shapes align from the right, size-1 dims
 * stretch. Axes may be negative (counted from the end).
 *
 * ---- How to add an op -----------------------------------------------------
 * 1. Add EN_OP_<NAME> to `en_op` below (in your module's section, before
 *    EN_OP_COUNT).
 * 2. Add {EN_OP_<NAME>, "<name>", en_<name>_backward} at the same position in
 *    en_op_table[] (engine/en_op_table.c). The table's size is checked
 *    against EN_OP_COUNT by _Static_assert, and a test checks every entry's
 *    enum and that no backward is NULL, so an op without a name or a
 *    backward does not build or does not pass.
 * 3. Declare the backward in engine/en_opdef.h and write the forward and the
 *    backward side by side in your en_ops_*.c file:
 *      en_tensor *en_<name>(en_tensor *x, ...) {
 *          en_tensor *xc = en_contiguous(x);         // kernels want dense
 *          en_tensor *y = en_tensor_empty(...);
 *          <kernel>(en_tensor_f32(y), en_tensor_f32(xc), ...);
 *          en_node *n = en_tape_record(EN_OP_<NAME>, y, 1, &xc);
 *          if (n) { n->iarg[0] = ...; n->saved[0] = en_tensor_retain(...); }
 *          en_tensor_release(xc);
 *          return y;
 *      }
 *      void en_<name>_backward(en_node *n, const float *gy) {
 *          int acc; float *gx = en_node_grad(n, 0, &acc);   // NULL: not needed
 *          if (gx) <backward kernel>(gx, gy, ..., acc);
 *      }
 * 4. Test the forward against a plain loop and the backward against central
 *    finite differences (tests/engine/, see en_gradcheck in the tests).
 */
#ifndef EN_OPS_H
#define EN_OPS_H

#include "en_tensor.h"

typedef enum {
    /* views and copies (en_views.c) */
    EN_OP_RESHAPE,
    EN_OP_PERMUTE,
    EN_OP_SLICE,
    EN_OP_EXPAND,
    EN_OP_CONTIGUOUS,
    /* elementwise (en_ops_elem.c) */
    EN_OP_ADD,
    EN_OP_SUB,
    EN_OP_MUL,
    EN_OP_DIV,
    EN_OP_ADD_SCALAR,
    EN_OP_MUL_SCALAR,
    EN_OP_POW_SCALAR,
    EN_OP_EXP,
    EN_OP_LOG,
    EN_OP_SQRT,
    EN_OP_ABS,
    EN_OP_CLAMP,
    EN_OP_RELU,
    EN_OP_GELU_TANH,
    EN_OP_GELU_ERF,
    EN_OP_QUICK_GELU,
    EN_OP_SIGMOID,
    EN_OP_TANH,
    /* reductions and normalisations (en_ops_reduce.c) */
    EN_OP_SUM,
    EN_OP_MAX,
    EN_OP_SOFTMAX,
    EN_OP_LOG_SOFTMAX,
    EN_OP_LAYER_NORM,
    EN_OP_L2_NORMALIZE,
    /* linear algebra (en_ops_linalg.c) */
    EN_OP_MATMUL,
    EN_OP_LINEAR,
    EN_OP_ATTENTION,
    /* indexing (en_ops_index.c) */
    EN_OP_EMBEDDING,
    EN_OP_GATHER_ROWS,
    EN_OP_CONCAT,
    /* losses (en_ops_loss.c) */
    EN_OP_CROSS_ENTROPY,
    EN_OP_MSE,
    EN_OP_BCE_LOGITS,
    /* convolution, pooling, upsampling, batch norm (en_ops_conv.c) */
    /* -- add conv ops here -- */
    EN_OP_CONV2D,
    EN_OP_CONV_TRANSPOSE2D,
    EN_OP_MAX_POOL2D,
    EN_OP_AVG_POOL2D,
    EN_OP_ADAPTIVE_AVG_POOL2D,
    EN_OP_UPSAMPLE_NEAREST,
    EN_OP_UPSAMPLE_BILINEAR,
    EN_OP_BATCH_NORM2D,
    EN_OP_COUNT
} en_op;

/* "add", "matmul", ... */
const char *en_op_name(en_op op);

/* ---- elementwise, with broadcasting ------------------------------------- */
en_tensor *en_add(en_tensor *a, en_tensor *b);
en_tensor *en_sub(en_tensor *a, en_tensor *b);
en_tensor *en_mul(en_tensor *a, en_tensor *b);
en_tensor *en_div(en_tensor *a, en_tensor *b);
en_tensor *en_add_scalar(en_tensor *a, float s);   /* a + s */
en_tensor *en_mul_scalar(en_tensor *a, float s);   /* a * s */
en_tensor *en_rsub_scalar(en_tensor *a, float s);  /* s - a */
en_tensor *en_neg(en_tensor *a);
en_tensor *en_pow(en_tensor *a, float p);          /* a^p (a > 0 unless p is an integer) */
en_tensor *en_exp(en_tensor *a);
en_tensor *en_log(en_tensor *a);
en_tensor *en_sqrt(en_tensor *a);
en_tensor *en_abs(en_tensor *a);
en_tensor *en_clamp(en_tensor *a, float lo, float hi); /* grad 0 outside [lo, hi] */
en_tensor *en_relu(en_tensor *a);
en_tensor *en_gelu(en_tensor *a);        /* tanh approximation */
en_tensor *en_gelu_erf(en_tensor *a);    /* exact, erf */
en_tensor *en_quick_gelu(en_tensor *a);  /* x * sigmoid(1.702 x) (OpenAI CLIP) */
en_tensor *en_sigmoid(en_tensor *a);
en_tensor *en_tanh(en_tensor *a);

/* ---- reductions ---------------------------------------------------------- */
/* Over the listed axes (naxes = 0: all); keepdim keeps them as size 1. */
en_tensor *en_sum(en_tensor *a, int naxes, const int *axes, int keepdim);
en_tensor *en_mean(en_tensor *a, int naxes, const int *axes, int keepdim);
en_tensor *en_sum_all(en_tensor *a);   /* 0-dim */
en_tensor *en_mean_all(en_tensor *a);  /* 0-dim */
/* Max along one axis (gradient to the first maximal element). */
en_tensor *en_max(en_tensor *a, int axis, int keepdim);
/* Index of the first maximum along axis, EN_I64, not differentiable. */
en_tensor *en_argmax(en_tensor *a, int axis, int keepdim);
en_tensor *en_softmax(en_tensor *a, int axis);
en_tensor *en_log_softmax(en_tensor *a, int axis);
/* Over the last dim of x (..., C); w, b (C) or NULL. */
en_tensor *en_layer_norm(en_tensor *x, en_tensor *w, en_tensor *b, float eps);
/* x / max(||x||_2, eps) along axis (PyTorch F.normalize). */
en_tensor *en_l2_normalize(en_tensor *x, int axis, float eps);
/* 1 when every element is finite, 0 otherwise (no grad). */
int        en_all_finite(const en_tensor *x);

/* ---- linear algebra ------------------------------------------------------ */
/* a (..., M, K) @ b (..., K, N). b may be 2-D (shared by every batch);
 * otherwise the batch dims must be equal. Transposed views (en_transpose
 * of the last two dims) reach cblas_sgemm as transposes, without a copy. */
en_tensor *en_matmul(en_tensor *a, en_tensor *b);
/* x (..., in) @ w (out, in)^T + b (out); b may be NULL (PyTorch layout). */
en_tensor *en_linear(en_tensor *x, en_tensor *w, en_tensor *b);
/* Scaled dot-product attention on packed projections: qkv (B, T, 3C) laid
 * out [q | k | v] along the last dim, nhead heads of C/nhead; causal masks
 * j > i. Returns (B, T, C), heads concatenated (before the out projection). */
en_tensor *en_attention(en_tensor *qkv, int nhead, int causal);
/* Multi-head self-attention, PyTorch nn.MultiheadAttention's parameters:
 * x (B, T, C) batch first, in_w (3C, C), in_b (3C) or NULL, out_w (C, C),
 * out_b (C) or NULL. = linear(attention(linear(x, in_w, in_b)), out_w, out_b) */
en_tensor *en_mha(en_tensor *x, en_tensor *in_w, en_tensor *in_b, en_tensor *out_w,
                  en_tensor *out_b, int nhead, int causal);

/* ---- indexing ----------------------------------------------------------- */
/* w (V, C), idx EN_I64 of any shape -> (idx.shape..., C). */
en_tensor *en_embedding(en_tensor *w, const en_tensor *idx);
/* x (N, ...) rows idx (M) EN_I64 -> (M, ...). */
en_tensor *en_gather_rows(en_tensor *x, const en_tensor *idx);
/* Along axis; every other dim equal. */
en_tensor *en_concat(int n, en_tensor *const *ts, int axis);
/* New axis; every shape equal. */
en_tensor *en_stack(int n, en_tensor *const *ts, int axis);

/* ---- losses (mean over the batch, 0-dim result) ------------------------- */
/* logits (N, K), targets EN_I64 (N) with values in [0, K). */
en_tensor *en_cross_entropy(en_tensor *logits, const en_tensor *targets);
en_tensor *en_mse(en_tensor *pred, en_tensor *target);
/* Mean of max(x,0) - x*t + log(1 + exp(-|x|)); targets in [0, 1]. */
en_tensor *en_bce_with_logits(en_tensor *logits, en_tensor *targets);

#endif
