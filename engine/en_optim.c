#include "en_optim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "kn_backend.h"

/* Element-wise updates: threads only pay off on large buffers. */
#define PAR_MIN 32768

static size_t segs_total(const en_seg *segs, int nseg) {
    size_t n = 0;
    for (int i = 0; i < nseg; i++) n += segs[i].n;
    return n;
}

/* ---- SGD ---------------------------------------------------------------- */

size_t en_sgd_state_floats(size_t n, double momentum) { return momentum != 0.0 ? n : 0; }

int en_sgd_init(en_sgd *o, size_t n, float *state, double lr, double momentum,
                double dampening, double weight_decay, int nesterov) {
    memset(o, 0, sizeof *o);
    if (!(lr >= 0) || !(momentum >= 0) || !(weight_decay >= 0) || !(dampening >= 0))
        return en_error("sgd: lr %g, momentum %g, dampening %g and weight_decay %g must be >= 0",
                        lr, momentum, dampening, weight_decay);
    if (nesterov && (momentum <= 0 || dampening != 0))
        return en_error("sgd: nesterov momentum requires a momentum and zero dampening");
    o->lr = lr; o->momentum = momentum; o->dampening = dampening;
    o->weight_decay = weight_decay; o->nesterov = nesterov; o->n = n;
    if (momentum != 0.0 && n > 0) {
        if (!state) {
            state = malloc(n * sizeof *state);
            if (!state) return en_error("sgd: out of memory for %zu state floats", n);
            o->owns = 1;
        }
        memset(state, 0, n * sizeof *state);
        o->buf = state;
    }
    return 0;
}

static void sgd_seg(const en_sgd *o, float *p, const float *g, float *buf, size_t n) {
    /* Scalars rounded to float once, as PyTorch's CPU kernels do. */
    const float lr = (float)o->lr, mu = (float)o->momentum, wd = (float)o->weight_decay,
                damp = (float)(1.0 - o->dampening);
    const int first = o->step == 0, nest = o->nesterov;
    #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float d = g[i];
        if (wd != 0.0f) d = d + wd * p[i];
        if (mu != 0.0f) {
            float b = first ? d : mu * buf[i] + damp * d;
            buf[i] = b;
            d = nest ? d + mu * b : b;
        }
        p[i] = p[i] - lr * d;
    }
}

void en_sgd_step(en_sgd *o, const en_seg *segs, int nseg) {
    EN_ASSERT(segs_total(segs, nseg) == o->n);
    size_t off = 0;
    for (int s = 0; s < nseg; s++) {
        sgd_seg(o, segs[s].p, segs[s].g, o->buf ? o->buf + off : NULL, segs[s].n);
        off += segs[s].n;
    }
    o->step++;
}

void en_sgd_step_flat(en_sgd *o, float *p, const float *g, size_t n) {
    en_seg s = { p, (float *)g, n };
    en_sgd_step(o, &s, 1);
}

void en_sgd_free(en_sgd *o) {
    if (o->owns) free(o->buf);
    o->buf = NULL; o->owns = 0;
}

/* ---- AdamW -------------------------------------------------------------- */

size_t en_adamw_state_floats(size_t n) { return 2 * n; }

int en_adamw_init(en_adamw *o, size_t n, float *state, double lr, double beta1,
                  double beta2, double eps, double weight_decay) {
    memset(o, 0, sizeof *o);
    if (!(lr >= 0) || !(eps >= 0) || !(weight_decay >= 0))
        return en_error("adamw: lr %g, eps %g and weight_decay %g must be >= 0", lr, eps, weight_decay);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        return en_error("adamw: betas (%g, %g) must lie in [0, 1)", beta1, beta2);
    o->lr = lr; o->beta1 = beta1; o->beta2 = beta2; o->eps = eps;
    o->weight_decay = weight_decay; o->n = n;
    if (n > 0) {
        if (!state) {
            state = malloc(2 * n * sizeof *state);
            if (!state) return en_error("adamw: out of memory for %zu state floats", 2 * n);
            o->owns = 1;
        }
        memset(state, 0, 2 * n * sizeof *state);
        o->m = state; o->v = state + n;
    }
    return 0;
}

void en_adamw_step(en_adamw *o, const en_seg *segs, int nseg) {
    EN_ASSERT(segs_total(segs, nseg) == o->n);
    if (o->device != 0) { /* the same scalars, the device's kernel (kn_backend.h adamw) */
        const kn_backend *be = kn_backend_get(o->device);
        EN_ASSERT(be != NULL);
        o->step++;
        const double t = (double)o->step;
        const double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
        size_t off = 0;
        for (int s = 0; s < nseg; s++) {
            be->adamw(segs[s].p, segs[s].g, o->m + off, o->v + off, (int64_t)segs[s].n,
                      (float)(1.0 - o->lr * o->weight_decay), (float)(o->lr / bc1), (float)sqrt(bc2),
                      (float)o->beta1, (float)o->beta2, (float)o->eps, (float)(1.0 - o->beta1),
                      (float)(1.0 - o->beta2));
            off += segs[s].n;
        }
        return;
    }
    o->step++;
    /* The scalars are computed in double and rounded once, as PyTorch does
     * (Python floats passed as Scalars to float tensors). */
    const double t = (double)o->step;
    const double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
    const float decay = (float)(1.0 - o->lr * o->weight_decay);
    const float step_size = (float)(o->lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const float a1 = (float)(1.0 - o->beta1), a2 = (float)(1.0 - o->beta2);
    size_t off = 0;
    for (int s = 0; s < nseg; s++) {
        float *p = segs[s].p, *m = o->m + off, *v = o->v + off;
        const float *g = segs[s].g;
        size_t n = segs[s].n;
        #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            float pi = p[i] * decay;
            float mi = m[i] * b1 + a1 * g[i];
            float vi = v[i] * b2 + a2 * g[i] * g[i];
            m[i] = mi; v[i] = vi;
            float denom = sqrtf(vi) / bc2_sqrt + eps;
            p[i] = pi + (-step_size) * mi / denom;
        }
        off += n;
    }
}

void en_adamw_step_flat(en_adamw *o, float *p, const float *g, size_t n) {
    en_seg s = { p, (float *)g, n };
    en_adamw_step(o, &s, 1);
}

void en_adamw_free(en_adamw *o) {
    if (o->owns && o->device != 0 && o->m) kn_backend_get(o->device)->free(o->m);
    else if (o->owns) free(o->m);
    o->m = o->v = NULL; o->owns = 0;
}

int en_adamw_to(en_adamw *o, int dev) {
    if (o->device == dev) return 0;
    const kn_backend *to = kn_backend_get(dev), *from = kn_backend_get(o->device);
    if (!to) return en_error("adamw: device %d is not available", dev);
    float *st = NULL;
    if (o->n > 0) {
        st = dev == 0 ? malloc(2 * o->n * sizeof *st) : to->alloc(2 * o->n * sizeof *st);
        if (!st) return en_error("adamw: out of memory for %zu state floats on the device", 2 * o->n);
        /* m and v are one block when the optimiser allocated them, not always otherwise */
        int kind = o->device == 0 ? KN_COPY_H2D : KN_COPY_D2H;
        const kn_backend *be = o->device == 0 ? to : from;
        if (o->device != 0 && dev != 0) { /* device to device, by way of the host */
            float *h = malloc(2 * o->n * sizeof *h);
            EN_ASSERT(h != NULL);
            from->copy(h, o->m, o->n * sizeof *h, KN_COPY_D2H);
            from->copy(h + o->n, o->v, o->n * sizeof *h, KN_COPY_D2H);
            to->copy(st, h, 2 * o->n * sizeof *h, KN_COPY_H2D);
            free(h);
        } else {
            be->copy(st, o->m, o->n * sizeof *st, kind);
            be->copy(st + o->n, o->v, o->n * sizeof *st, kind);
        }
    }
    en_adamw_free(o);
    o->m = st;
    o->v = st ? st + o->n : NULL;
    o->owns = st != NULL;
    o->device = dev;
    return 0;
}

/* ---- clipping ----------------------------------------------------------- */

/* Sum of squares in double: a float sum over millions of elements would
 * lose digits, and the norm decides whether anything is clipped. Each thread
 * sums a fixed block and the blocks are added in order, so the norm is the
 * same on every run with the same thread count. */
static double sum_squares(const float *g, size_t n) {
    if (n < PAR_MIN) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
        return s;
    }
    double part[256] = { 0 };
    int nt = omp_get_max_threads() < 256 ? omp_get_max_threads() : 256;
    #pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
        size_t i0 = n * t / tn, i1 = n * (t + 1) / tn;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)g[i] * g[i];
        part[t] = s;
    }
    double s = 0;
    for (int t = 0; t < nt; t++) s += part[t];
    return s;
}

float en_clip_grad_norm(const en_seg *segs, int nseg, float max_norm) {
    double ss = 0;
    for (int s = 0; s < nseg; s++) ss += sum_squares(segs[s].g, segs[s].n);
    float total = (float)sqrt(ss);
    float coef = max_norm / (total + 1e-6f);
    if (!(coef >= 1.0f)) { /* NaN scales too, as torch.clamp passes it on */
        for (int s = 0; s < nseg; s++) {
            float *g = segs[s].g;
            size_t n = segs[s].n;
            #pragma omp parallel for schedule(static) if (n >= PAR_MIN)
            for (size_t i = 0; i < n; i++) g[i] *= coef;
        }
    }
    return total;
}

float en_clip_grad_norm_on(int dev, const en_seg *segs, int nseg, float max_norm) {
    if (dev == 0) return en_clip_grad_norm(segs, nseg, max_norm);
    const kn_backend *be = kn_backend_get(dev);
    EN_ASSERT(be != NULL);
    double *d = be->alloc(sizeof *d);
    EN_ASSERT(d != NULL);
    double ss = 0;
    int nt = omp_get_max_threads() < 256 ? omp_get_max_threads() : 256;
    for (int s = 0; s < nseg; s++) { /* sum_squares's parts: the CPU's partition */
        double v;
        be->sum_squares(d, segs[s].g, (int64_t)segs[s].n, segs[s].n < PAR_MIN ? 1 : nt);
        be->copy(&v, d, sizeof v, KN_COPY_D2H);
        ss += v;
    }
    be->free(d);
    float total = (float)sqrt(ss);
    float coef = max_norm / (total + 1e-6f);
    if (!(coef >= 1.0f))
        for (int s = 0; s < nseg; s++)
            be->unary_fwd(KN_U_MUL_SCALAR, segs[s].g, segs[s].g, (int64_t)segs[s].n, coef, 0);
    return total;
}

float en_clip_grad_norm_flat(float *g, size_t n, float max_norm) {
    en_seg s = { NULL, g, n };
    return en_clip_grad_norm(&s, 1, max_norm);
}
