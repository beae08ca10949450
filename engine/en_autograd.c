/* The tape, backward, and the parameter registry. */
#include "en_autograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "en_tensor_internal.h"

static int grad_on = 1;
static en_node **tape = NULL;
static size_t tape_n = 0, tape_cap = 0;

int en_grad_enabled(void) { return grad_on; }
int en_grad_set_enabled(int on) {
    int prev = grad_on;
    grad_on = on ? 1 : 0;
    return prev;
}

const char *en_op_name(en_op op) {
    EN_ASSERT(op >= 0 && op < EN_OP_COUNT);
    return en_op_table[op].name;
}

void en_requires_grad(en_tensor *t, int on) {
    EN_ASSERT(!(t->flags & EN_T_ARENA) || !on);
    if (on) t->flags |= EN_T_REQUIRES_GRAD | EN_T_LEAF;
    else t->flags &= ~(unsigned)(EN_T_REQUIRES_GRAD | EN_T_LEAF);
}

int en_tensor_requires_grad(const en_tensor *t) { return (t->flags & EN_T_REQUIRES_GRAD) != 0; }
en_tensor *en_tensor_grad(const en_tensor *t) { return t->grad; }

void en_zero_grad(en_tensor *t) {
    if (!t->grad) return;
    if (en_tensor_device(t->grad) == EN_CPU) {
        en_tensor_fill_(t->grad, 0.0f);
        return;
    }
    EN_ASSERT(en_tensor_is_contiguous(t->grad)); /* gradients are dense */
    en_dev_memzero(en_tensor_device(t->grad), en_dev_f32(t->grad),
                   (size_t)en_tensor_numel(t->grad) * sizeof(float));
}

en_node *en_tape_record(en_op op, en_tensor *out, int nin, en_tensor *const *in) {
    if (!grad_on) return NULL;
    int need = 0;
    for (int i = 0; i < nin; i++)
        if (in[i] && (in[i]->flags & EN_T_REQUIRES_GRAD)) need = 1;
    /* Arena memory is reset under the tape's feet: an arena implies no
     * grad (a later backward then reports that nothing was recorded). */
    if (!need || (out->flags & EN_T_ARENA)) return NULL;
    en_node *n = calloc(1, sizeof *n);
    EN_ASSERT(n != NULL);
    n->op = op;
    n->nin = nin;
    n->in = nin <= 4 ? n->in_small : calloc((size_t)nin, sizeof *n->in);
    EN_ASSERT(n->in != NULL);
    for (int i = 0; i < nin; i++) n->in[i] = en_tensor_retain(in[i]);
    n->out = en_tensor_retain(out);
    out->flags |= EN_T_REQUIRES_GRAD;
    if (tape_n == tape_cap) {
        tape_cap = tape_cap ? 2 * tape_cap : 256;
        tape = realloc(tape, tape_cap * sizeof *tape);
        EN_ASSERT(tape != NULL);
    }
    tape[tape_n++] = n;
    return n;
}

float *en_node_grad(en_node *n, int i, int *acc) {
    EN_ASSERT(i >= 0 && i < n->nin);
    en_tensor *t = n->in[i];
    if (!t || !(t->flags & EN_T_REQUIRES_GRAD)) return NULL;
    EN_ASSERT(t->dtype == EN_F32);
    if (!t->grad) {
        en_device dev = en_tensor_device(t);
        if (dev != EN_CPU) { /* the gradient lives where the tensor does */
            t->grad = en_device_empty(dev, EN_F32, t->ndim, t->shape);
            *acc = (t->flags & EN_T_LEAF) != 0;
            if (*acc) en_dev_memzero(dev, en_dev_f32(t->grad), (size_t)en_tensor_numel(t) * sizeof(float));
        } else if (t->flags & EN_T_LEAF) {
            t->grad = en_tensor_zeros(t->ndim, t->shape);
            *acc = 1;
        } else {
            t->grad = en_tensor_empty(t->ndim, t->shape);
            *acc = 0;
        }
    } else {
        *acc = 1;
    }
    return en_dev_f32(t->grad);
}

void en_dev_memzero(en_device dev, float *p, size_t nbytes) {
    if (!nbytes) return;
    if (dev == EN_CPU) memset(p, 0, nbytes);
    else kn_backend_get(dev)->memzero(p, nbytes);
}

static void node_free(en_node *n) {
    for (int i = 0; i < n->nin; i++) en_tensor_release(n->in[i]);
    if (n->in != n->in_small) free(n->in);
    if (!(n->out->flags & EN_T_LEAF)) {
        en_tensor_release(n->out->grad);
        n->out->grad = NULL;
    }
    en_tensor_release(n->out);
    for (int i = 0; i < EN_NODE_SAVED; i++) en_tensor_release(n->saved[i]);
    free(n);
}

void en_tape_clear(void) {
    /* newest first: a node's output is an input of later nodes only */
    while (tape_n) node_free(tape[--tape_n]);
    free(tape);
    tape = NULL;
    tape_cap = 0;
}

size_t en_tape_len(void) { return tape_n; }

int en_backward_with(en_tensor *out, const en_tensor *grad) {
    if (!(out->flags & EN_T_REQUIRES_GRAD) || (out->flags & EN_T_LEAF) || tape_n == 0) {
        en_tape_clear();
        return en_error("backward: nothing recorded leads to this tensor (no input requires grad, "
                        "grad mode was off, or backward already ran on it)");
    }
    if (!en_tensor_same_shape(out, grad)) {
        en_tape_clear();
        return en_error("backward: the seed gradient's shape differs from the output's");
    }
    EN_ASSERT(!out->grad);
    en_device dev = en_tensor_device(out);
    /* the seed, dense, where the output is (a device seed is read, never written) */
    out->grad = dev == EN_CPU && en_tensor_device(grad) == EN_CPU ? en_tensor_clone(grad)
                                                                   : en_device_dense((en_tensor *)grad, dev);
    int prev = en_grad_set_enabled(0); /* backward records nothing */
    for (size_t k = tape_n; k-- > 0;) {
        en_node *n = tape[k];
        if (!n->out->grad) continue;
        /* a device node's backward gets the back end's pointer and runs its kernels */
        en_op_table[n->op].backward(n, en_dev_f32(n->out->grad));
        /* this activation's gradient is complete and used: free it early
         * so the allocator reuses its memory for the next ones */
        if (!(n->out->flags & EN_T_LEAF) && n->out != out) {
            en_tensor_release(n->out->grad);
            n->out->grad = NULL;
        }
    }
    en_grad_set_enabled(prev);
    en_tape_clear();
    return 0;
}

int en_backward(en_tensor *loss) {
    if (en_tensor_numel(loss) != 1) {
        en_tape_clear();
        return en_error("backward: the loss has %lld elements, not 1", (long long)en_tensor_numel(loss));
    }
    en_tensor *one = en_tensor_full(loss->ndim, loss->shape, 1.0f);
    int rc = en_backward_with(loss, one);
    en_tensor_release(one);
    return rc;
}

/* ---- parameter registry ----------------------------------------------------- */
struct en_params {
    int n, cap;
    en_tensor **t;
    char **names;
    int64_t *offset;
    int64_t numel, capnumel;
    en_tensor *data, *grad; /* flat 1-D tensors whose storages the views share */
};

en_params *en_params_new(void) {
    en_params *p = calloc(1, sizeof *p);
    EN_ASSERT(p != NULL);
    return p;
}

void en_params_free(en_params *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        en_tensor_release(p->t[i]);
        free(p->names[i]);
    }
    free(p->t);
    free(p->names);
    free(p->offset);
    en_tensor_release(p->data);
    en_tensor_release(p->grad);
    free(p);
}

static void flat_grow(en_tensor *flat, int64_t old_n, int64_t new_n) {
    (void)old_n;
    en_storage_resize(flat, (size_t)new_n * sizeof(float));
    flat->shape[0] = new_n;
}

en_tensor *en_params_add(en_params *p, const char *name, int ndim, const int64_t *shape) {
    if (en_params_find(p, name)) return en_error("parameter '%s' added twice", name), NULL;
    EN_ASSERT(ndim >= 0 && ndim <= EN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    int64_t off = (p->numel + 15) & ~(int64_t)15; /* 64-byte aligned starts */
    if (!p->data) {
        EN_ASSERT(!en_arena_active());
        p->capnumel = off + n > 4096 ? off + n : 4096;
        p->data = en_tensor_zeros(EN_DIMS(p->capnumel));
        p->grad = en_tensor_zeros(EN_DIMS(p->capnumel));
    } else if (off + n > p->capnumel) {
        int64_t nc = p->capnumel * 2 > off + n ? p->capnumel * 2 : off + n;
        flat_grow(p->data, p->capnumel, nc);
        flat_grow(p->grad, p->capnumel, nc);
        p->capnumel = nc;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->t = realloc(p->t, (size_t)p->cap * sizeof *p->t);
        p->names = realloc(p->names, (size_t)p->cap * sizeof *p->names);
        p->offset = realloc(p->offset, (size_t)p->cap * sizeof *p->offset);
        EN_ASSERT(p->t && p->names && p->offset);
    }
    en_tensor *flat = en_slice(p->data, 0, off, off + n, 1);
    en_tensor *t = en_reshape(flat, ndim, shape);
    en_tensor_release(flat);
    en_tensor *gflat = en_slice(p->grad, 0, off, off + n, 1);
    t->grad = en_reshape(gflat, ndim, shape);
    en_tensor_release(gflat);
    en_requires_grad(t, 1);
    p->t[p->n] = t;
    p->names[p->n] = strdup(name);
    p->offset[p->n] = off;
    p->n++;
    p->numel = off + n;
    return t;
}

int en_params_count(const en_params *p) { return p->n; }
en_tensor *en_params_get(const en_params *p, int i) {
    EN_ASSERT(i >= 0 && i < p->n);
    return p->t[i];
}
const char *en_params_name(const en_params *p, int i) {
    EN_ASSERT(i >= 0 && i < p->n);
    return p->names[i];
}
int64_t en_params_offset(const en_params *p, int i) {
    EN_ASSERT(i >= 0 && i < p->n);
    return p->offset[i];
}
en_tensor *en_params_find(const en_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0) return p->t[i];
    return NULL;
}
int64_t en_params_numel(const en_params *p) { return p->numel; }
float *en_params_data(en_params *p) { return p->data ? en_tensor_f32(p->data) : NULL; }
float *en_params_grad(en_params *p) { return p->grad ? en_tensor_f32(p->grad) : NULL; }
float *en_params_data_on(en_params *p) { return p->data ? en_dev_f32(p->data) : NULL; }
float *en_params_grad_on(en_params *p) { return p->grad ? en_dev_f32(p->grad) : NULL; }
en_device en_params_device(const en_params *p) { return p->data ? en_tensor_device(p->data) : EN_CPU; }
void en_params_zero_grad(en_params *p) {
    if (!p->grad) return;
    if (en_tensor_device(p->grad) == EN_CPU) memset(en_tensor_f32(p->grad), 0, (size_t)p->capnumel * sizeof(float));
    else en_dev_memzero(en_tensor_device(p->grad), en_dev_f32(p->grad), (size_t)p->capnumel * sizeof(float));
}

int en_params_to(en_params *p, en_device dev) {
    if (!p->data || en_tensor_device(p->data) == dev) return 0;
    /* gradients first: if they cannot move, the values have not either */
    if (en_tensor_move_(p->grad, dev) < 0) return -1;
    if (en_tensor_move_(p->data, dev) < 0) {
        EN_ASSERT(en_tensor_move_(p->grad, en_tensor_device(p->data)) == 0);
        return -1;
    }
    for (int i = 0; i < p->n; i++) {
        en_tensor_share_(p->t[i], p->data);
        if (p->t[i]->grad) en_tensor_share_(p->t[i]->grad, p->grad);
    }
    return 0;
}
