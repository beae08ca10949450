/* en_sched — learning-rate schedules as pure functions of the step.
 *
 * Linear warm-up then cosine decay, for steps s = 0 .. S−1 (S total steps,
 * W warm-up steps, 0 <= W <= S):
 *   s <  W:  lr = lr_max · (s + 1) / W          (the first step already moves)
 *   s >= W:  lr = lr_min + ½(lr_max − lr_min)(1 + cos(π · (s − W) / (S − W)))
 * so steps W−1 and W run at lr_max and the decay approaches lr_min at s = S; steps
 * past the end (s >= S) stay at lr_min. */
#ifndef EN_SCHED_H
#define EN_SCHED_H

double en_sched_warmup_cosine(long s, long S, long W, double lr_max, double lr_min);

#endif
