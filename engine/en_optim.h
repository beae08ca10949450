/* en_optim — optimisers and gradient clipping on flat float arrays, with
 * torch.optim's semantics (PyTorch 1.13, single-tensor path, maximize=False).
 *
 * Parameters are given either as one flat buffer (p, g, n) — the layout of
 * the parameter registry — or as a list of segments; the optimiser's state is
 * laid out the same way, segment after segment, so the segments must come in
 * the same order and sizes on every step. State lives in an array the caller
 * provides (state_floats() elements, zero-filled by init) or, when state is
 * NULL, one the optimiser allocates and en_*_free releases. Hyper-parameters
 * are plain fields: set o->lr before a step to follow a schedule.
 *
 *   SGD:   d = g + wd·p;  b = d (first step) else μ·b + (1−τ)·d;
 *          d = nesterov ? d + μ·b : b;  p −= lr·d
 *   AdamW: p ·= 1 − lr·wd;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
 *          p −= lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + ε)
 */
#ifndef EN_OPTIM_H
#define EN_OPTIM_H

#include <stddef.h>

typedef struct { float *p; float *g; size_t n; } en_seg;

typedef struct {
    double lr, momentum, dampening, weight_decay; /* doubles, as Python passes them */
    int nesterov;
    size_t n;      /* total elements the state covers */
    float *buf;    /* momentum buffer [n], NULL when momentum == 0 */
    long step;     /* steps taken; the momentum buffer starts at step 0 */
    int owns;
} en_sgd;

typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    size_t n;
    float *m, *v;  /* first and second moments [n] each */
    long step;
    int owns;
    int device;    /* en_device of m, v and of the segments' pointers (en_adamw_to) */
} en_adamw;

/* SGD over n elements. state: NULL, or n floats (momentum != 0). Returns -1
 * (en_error) on a negative hyper-parameter or nesterov without momentum. */
int  en_sgd_init(en_sgd *o, size_t n, float *state, double lr, double momentum,
                 double dampening, double weight_decay, int nesterov);
size_t en_sgd_state_floats(size_t n, double momentum);
void en_sgd_step(en_sgd *o, const en_seg *segs, int nseg);
void en_sgd_step_flat(en_sgd *o, float *p, const float *g, size_t n);
void en_sgd_free(en_sgd *o);

/* AdamW over n elements. state: NULL, or 2n floats. PyTorch's defaults are
 * lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2. */
int  en_adamw_init(en_adamw *o, size_t n, float *state, double lr, double beta1,
                   double beta2, double eps, double weight_decay);
size_t en_adamw_state_floats(size_t n);
void en_adamw_step(en_adamw *o, const en_seg *segs, int nseg);
void en_adamw_step_flat(en_adamw *o, float *p, const float *g, size_t n);
void en_adamw_free(en_adamw *o);
/* Moves the state (m, v) to dev (an en_device): later steps take segments
 * of that device's memory (en_params_data_on / en_params_grad_on) and run
 * its `adamw` kernel, the CPU's loop on the CPU back end. The state is then
 * the optimiser's own (en_adamw_free releases it). 0, or -1 with en_error
 * (no such device, out of its memory: nothing moved). */
int  en_adamw_to(en_adamw *o, int dev);

/* torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2): the global L2 norm
 * over every segment's gradient; when it exceeds max_norm the gradients are
 * scaled by max_norm/(norm + 1e-6). Returns the norm before clipping (NaN or
 * inf pass through, as in PyTorch with error_if_nonfinite=False). */
float en_clip_grad_norm(const en_seg *segs, int nseg, float max_norm);
float en_clip_grad_norm_flat(float *g, size_t n, float max_norm);
/* The same with the segments' gradients in dev's memory (an en_device): the
 * sums of squares by its `sum_squares` kernel (the CPU's parts), one double
 * per segment to the host, the scaling by its unary kernel. */
float en_clip_grad_norm_on(int dev, const en_seg *segs, int nseg, float max_norm);

#endif
