/* The op table: one entry per en_op, in enum order (see en_ops.h, "How to
 * add an op"). */
#include "en_opdef.h"

const en_op_info en_op_table[] = {
    {EN_OP_RESHAPE, "reshape", en_reshape_backward},
    {EN_OP_PERMUTE, "permute", en_permute_backward},
    {EN_OP_SLICE, "slice", en_slice_backward},
    {EN_OP_EXPAND, "expand", en_expand_backward},
    {EN_OP_CONTIGUOUS, "contiguous", en_contiguous_backward},
    {EN_OP_ADD, "add", en_binary_backward},
    {EN_OP_SUB, "sub", en_binary_backward},
    {EN_OP_MUL, "mul", en_binary_backward},
    {EN_OP_DIV, "div", en_binary_backward},
    {EN_OP_ADD_SCALAR, "add_scalar", en_scalar_backward},
    {EN_OP_MUL_SCALAR, "mul_scalar", en_scalar_backward},
    {EN_OP_POW_SCALAR, "pow", en_scalar_backward},
    {EN_OP_EXP, "exp", en_unary_backward},
    {EN_OP_LOG, "log", en_unary_backward},
    {EN_OP_SQRT, "sqrt", en_unary_backward},
    {EN_OP_ABS, "abs", en_unary_backward},
    {EN_OP_CLAMP, "clamp", en_unary_backward},
    {EN_OP_RELU, "relu", en_unary_backward},
    {EN_OP_GELU_TANH, "gelu", en_unary_backward},
    {EN_OP_GELU_ERF, "gelu_erf", en_unary_backward},
    {EN_OP_QUICK_GELU, "quick_gelu", en_unary_backward},
    {EN_OP_SIGMOID, "sigmoid", en_unary_backward},
    {EN_OP_TANH, "tanh", en_unary_backward},
    {EN_OP_SUM, "sum", en_sum_backward},
    {EN_OP_MAX, "max", en_max_backward},
    {EN_OP_SOFTMAX, "softmax", en_softmax_backward},
    {EN_OP_LOG_SOFTMAX, "log_softmax", en_softmax_backward},
    {EN_OP_LAYER_NORM, "layer_norm", en_layer_norm_backward},
    {EN_OP_L2_NORMALIZE, "l2_normalize", en_l2_normalize_backward},
    {EN_OP_MATMUL, "matmul", en_matmul_backward},
    {EN_OP_LINEAR, "linear", en_linear_backward},
    {EN_OP_ATTENTION, "attention", en_attention_backward},
    {EN_OP_EMBEDDING, "embedding", en_embedding_backward},
    {EN_OP_GATHER_ROWS, "gather_rows", en_gather_rows_backward},
    {EN_OP_CONCAT, "concat", en_concat_backward},
    {EN_OP_CROSS_ENTROPY, "cross_entropy", en_cross_entropy_backward},
    {EN_OP_MSE, "mse", en_mse_backward},
    {EN_OP_BCE_LOGITS, "bce_with_logits", en_bce_logits_backward},
    /* -- conv ops here -- */
};

_Static_assert(sizeof en_op_table / sizeof en_op_table[0] == EN_OP_COUNT,
               "en_op_table needs one entry per en_op");
