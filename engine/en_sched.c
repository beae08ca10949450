#include "en_sched.h"

#include <math.h>

#include "en_error.h"

double en_sched_warmup_cosine(long s, long S, long W, double lr_max, double lr_min) {
    EN_ASSERT(S > 0 && W >= 0 && W <= S && s >= 0);
    if (s < W) return lr_max * (double)(s + 1) / (double)W;
    if (s >= S) return lr_min;
    double t = (double)(s - W) / (double)(S - W);
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + cos(M_PI * t));
}
