/* Tensors, views, arenas, the tape's rules, the parameter registry, the op
 * table, and a small model trained end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "tutil.h"

Test(tensor, views_share_storage) {
    en_tensor *t = en_tensor_from_f32(EN_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
    en_tensor *tr = en_transpose(t, 0, 1);
    cr_assert(!en_tensor_is_contiguous(tr));
    cr_assert_eq(tr->storage, t->storage);
    en_tensor *c = en_contiguous(tr);
    float want[6] = {0, 3, 1, 4, 2, 5};
    cr_expect(t_maxdiff(en_tensor_f32(c), want, 6) == 0, "transpose copy wrong");
    en_tensor *s = en_slice(t, 1, 1, 3, 1);  /* columns 1..2 */
    en_tensor_f32(s)[0] = 10;                /* writes through to t */
    cr_expect_eq(en_tensor_f32(t)[1], 10);
    en_tensor *e = en_expand(en_tensor_retain(s), EN_DIMS(4, 2, 2));
    en_tensor_release(s);
    cr_expect_eq(e->stride[0], 0);
    en_tensor *ec = en_contiguous(e);
    cr_expect_eq(en_tensor_f32(ec)[12], 10);
    en_tensor *r = en_reshape(t, EN_DIMS(-1));
    cr_expect_eq(r->shape[0], 6);
    cr_expect_eq(r->storage, t->storage); /* contiguous: a view, no copy */
    en_tensor *list[] = {t, tr, c, s, e, ec, r};
    for (int i = 0; i < 7; i++) en_tensor_release(list[i]);
}

Test(tensor, dtype_and_fill) {
    en_tensor *i = en_tensor_from_i64(EN_DIMS(3), (int64_t[]){1, -2, 7});
    en_tensor *f = en_tensor_to_f32(i);
    cr_expect_eq(en_tensor_f32(f)[1], -2.0f);
    en_tensor *back = en_tensor_to_i64(f);
    cr_expect_eq(en_tensor_i64(back)[2], 7);
    en_tensor *z = en_tensor_zeros(EN_DIMS(2, 2));
    en_tensor_fill_(z, 3);
    en_tensor *sum = en_sum_all(z);
    cr_expect_eq(en_tensor_item(sum), 12.0f);
    en_tensor_release(sum);
    char buf[64];
    cr_expect_str_eq(en_tensor_shape_str(z, buf, sizeof buf), "[2, 2]");
    en_tensor_release(i);
    en_tensor_release(f);
    en_tensor_release(back);
    en_tensor_release(z);
}

Test(tensor, op_table_complete) {
    for (int k = 0; k < EN_OP_COUNT; k++) {
        cr_expect_eq(en_op_table[k].op, (en_op)k, "entry %d is op %d", k, en_op_table[k].op);
        cr_expect(en_op_table[k].name && en_op_table[k].name[0], "op %d has no name", k);
        cr_expect(en_op_table[k].backward != NULL, "op %s has no backward", en_op_table[k].name);
    }
    cr_expect_str_eq(en_op_name(EN_OP_MATMUL), "matmul");
}

Test(autograd, leaf_grads_accumulate_and_no_grad_records_nothing) {
    en_tensor *w = t_rand(1, EN_DIMS(3));
    for (int rep = 0; rep < 2; rep++) {
        en_tensor *y = en_mul_scalar(w, 2.0f), *l = en_sum_all(y);
        cr_assert_eq(en_backward(l), 0);
        en_tensor_release(y);
        en_tensor_release(l);
    }
    /* d(sum 2w)/dw = 2, twice: accumulates to 4 */
    float four[3] = {4, 4, 4};
    cr_expect(t_maxdiff(en_tensor_f32(en_tensor_grad(w)), four, 3) == 0, "leaf gradient did not accumulate");
    cr_expect_eq(en_tape_len(), 0);
    int prev = en_grad_set_enabled(0);
    en_tensor *y = en_exp(w);
    cr_expect_eq(en_tape_len(), 0, "no-grad mode recorded %zu nodes", en_tape_len());
    cr_expect(!en_tensor_requires_grad(y));
    en_grad_set_enabled(prev);
    en_tensor *y2 = en_exp(w);
    cr_expect_eq(en_tape_len(), 1);
    en_tape_clear();
    cr_expect_neq(en_backward(y2), 0, "backward of an unrecorded tensor succeeded"); /* tape cleared */
    en_tensor_release(y);
    en_tensor_release(y2);
    en_tensor_release(w);
}

Test(autograd, params_live_in_flat_buffers) {
    en_params *p = en_params_new();
    en_tensor *w = en_params_add(p, "w", EN_DIMS(3, 4));
    en_tensor *b = en_params_add(p, "b", EN_DIMS(4));
    for (int i = 0; i < 40; i++) { /* force the flat buffers to grow */
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        cr_assert_not_null(en_params_add(p, name, EN_DIMS(100)));
    }
    cr_expect_null(en_params_add(p, "w", EN_DIMS(1)));
    cr_expect_eq(en_params_count(p), 42);
    cr_expect_eq(en_params_find(p, "b"), b);
    cr_expect(en_params_numel(p) >= 12 + 4 + 4000);
    /* a parameter's data and grad are views at its offset in the flat arrays */
    cr_expect_eq(en_tensor_f32(b), en_params_data(p) + en_params_offset(p, 1));
    cr_expect_eq(en_tensor_f32(en_tensor_grad(w)), en_params_grad(p) + en_params_offset(p, 0));
    en_tensor_fill_(w, 1.0f);
    en_tensor_fill_(b, 0.5f);
    en_tensor *x = en_tensor_ones(EN_DIMS(2, 3));
    en_tensor *y = en_matmul(x, w), *z = en_add(y, b), *l = en_sum_all(z);
    cr_assert_eq(en_backward(l), 0);
    /* dl/db = 2 per element (two rows); in the flat grad array */
    cr_expect_eq(en_params_grad(p)[en_params_offset(p, 1) + 3], 2.0f);
    en_params_zero_grad(p);
    cr_expect_eq(en_params_grad(p)[en_params_offset(p, 1) + 3], 0.0f);
    en_tensor *list[] = {x, y, z, l};
    for (int i = 0; i < 4; i++) en_tensor_release(list[i]);
    en_params_free(p);
}

/* an inference step in an arena: after the first step, no heap allocation */
static void mlp_step(en_tensor *x, en_tensor *w1, en_tensor *w2, en_tensor *out) {
    en_tensor *h = en_linear(x, w1, NULL);
    en_tensor *a = en_gelu(h);
    en_tensor *t = en_transpose(a, 0, 1); /* a view in the arena */
    en_tensor *c = en_contiguous(t);
    en_tensor *ct = en_transpose(c, 0, 1);
    en_tensor *y = en_linear(ct, w2, NULL);
    en_tensor *s = en_softmax(y, -1);
    en_tensor_copy_(out, s);
    en_tensor *list[] = {h, a, t, c, ct, y, s};
    for (int i = 0; i < 7; i++) en_tensor_release(list[i]);
}

Test(tensor, arena_step_allocates_nothing) {
    en_rng r;
    en_rng_seed(&r, 5);
    en_tensor *x = en_tensor_randn(EN_DIMS(8, 16), &r, 0, 1);
    en_tensor *w1 = en_tensor_randn(EN_DIMS(32, 16), &r, 0, 0.2f);
    en_tensor *w2 = en_tensor_randn(EN_DIMS(4, 32), &r, 0, 0.2f);
    en_tensor *out = en_tensor_empty(EN_DIMS(8, 4)), *ref = en_tensor_empty(EN_DIMS(8, 4));
    mlp_step(x, w1, w2, ref); /* outside any arena */
    en_arena *ar = en_arena_new(1024); /* deliberately small: must grow */
    int prev = en_grad_set_enabled(0);
    uint64_t counts[4];
    for (int step = 0; step < 4; step++) {
        en_arena_begin(ar);
        mlp_step(x, w1, w2, out);
        en_arena_end(ar);
        en_arena_reset(ar);
        counts[step] = en_tensor_alloc_count();
    }
    en_grad_set_enabled(prev);
    printf("arena: capacity %zu bytes; tensor allocations after steps: %llu %llu %llu %llu\n",
           en_arena_capacity(ar), (unsigned long long)counts[0], (unsigned long long)counts[1],
           (unsigned long long)counts[2], (unsigned long long)counts[3]);
    cr_expect_eq(counts[2], counts[1], "step 3 allocated %llu times", (unsigned long long)(counts[2] - counts[1]));
    cr_expect_eq(counts[3], counts[2]);
    cr_expect(t_maxdiff(en_tensor_f32(out), en_tensor_f32(ref), 32) < 1e-6, "arena step differs");
    en_arena_free(ar);
    en_tensor *list[] = {x, w1, w2, out, ref};
    for (int i = 0; i < 5; i++) en_tensor_release(list[i]);
}

/* A 2-layer MLP learns two interleaved spirals with plain SGD. */
Test(train, mlp_two_spirals) {
    en_set_num_threads(1);
    int N = 200, H = 32;
    en_rng r;
    en_rng_seed(&r, 42);
    float xs[400];
    int64_t ys[200];
    for (int i = 0; i < N; i++) {
        int c = i % 2;
        float t = 0.25f + 2.5f * (float)(i / 2) / (float)(N / 2);
        float ang = 2.2f * t + (float)M_PI * c;
        xs[2 * i] = t * cosf(ang) + 0.03f * en_rng_normal(&r);
        xs[2 * i + 1] = t * sinf(ang) + 0.03f * en_rng_normal(&r);
        ys[i] = c;
    }
    en_tensor *x = en_tensor_from_f32(EN_DIMS(N, 2), xs);
    en_tensor *y = en_tensor_from_i64(EN_DIMS(N), ys);
    en_params *p = en_params_new();
    en_tensor *w1 = en_params_add(p, "w1", EN_DIMS(H, 2)), *b1 = en_params_add(p, "b1", EN_DIMS(H));
    en_tensor *w2 = en_params_add(p, "w2", EN_DIMS(H, H)), *b2 = en_params_add(p, "b2", EN_DIMS(H));
    en_tensor *w3 = en_params_add(p, "w3", EN_DIMS(2, H));
    (void)b1; (void)b2;
    en_rng_fill_normal(&r, en_tensor_f32(w1), 2 * H, 0, 1.0f);
    en_rng_fill_normal(&r, en_tensor_f32(w2), H * H, 0, 1.0f / sqrtf((float)H));
    en_rng_fill_normal(&r, en_tensor_f32(w3), 2 * H, 0, 1.0f / sqrtf((float)H));
    float first = 0, last = 0;
    for (int step = 0; step < 1500; step++) {
        en_tensor *h1 = en_linear(x, w1, b1), *a1 = en_tanh(h1);
        en_tensor *h2 = en_linear(a1, w2, b2), *a2 = en_relu(h2);
        en_tensor *lo = en_linear(a2, w3, NULL), *loss = en_cross_entropy(lo, y);
        if (step == 0) first = en_tensor_item(loss);
        last = en_tensor_item(loss);
        en_params_zero_grad(p);
        cr_assert_eq(en_backward(loss), 0, "%s", en_error_msg());
        float *d = en_params_data(p), *g = en_params_grad(p);
        for (int64_t i = 0; i < en_params_numel(p); i++) d[i] -= 0.3f * g[i]; /* plain SGD */
        en_tensor *list[] = {h1, a1, h2, a2, lo, loss};
        for (int i = 0; i < 6; i++) en_tensor_release(list[i]);
    }
    /* accuracy on the training points */
    int prev = en_grad_set_enabled(0);
    en_tensor *h1 = en_linear(x, w1, b1), *a1 = en_tanh(h1), *h2 = en_linear(a1, w2, b2);
    en_tensor *a2 = en_relu(h2), *lo = en_linear(a2, w3, NULL), *pred = en_argmax(lo, 1, 0);
    int correct = 0;
    for (int i = 0; i < N; i++) correct += en_tensor_i64(pred)[i] == ys[i];
    en_grad_set_enabled(prev);
    printf("train mlp_two_spirals: loss %.4f -> %.4f, accuracy %d/%d (want loss < 0.15, accuracy >= 95%%)\n",
           first, last, correct, N);
    cr_expect(last < 0.15f, "final loss %.4f >= 0.15", last);
    cr_expect(correct >= 190, "accuracy %d/200", correct);
    en_tensor *list[] = {h1, a1, h2, a2, lo, pred, x, y};
    for (int i = 0; i < 8; i++) en_tensor_release(list[i]);
    en_params_free(p);
}

Test(autograd, second_backward_is_an_error) {
    en_tensor *w = t_rand(9, EN_DIMS(4));
    en_tensor *y = en_exp(w), *l = en_sum_all(y);
    cr_assert_eq(en_backward(l), 0);
    cr_expect_neq(en_backward(l), 0, "a second backward over a cleared tape succeeded");
    cr_expect(strstr(en_error_msg(), "backward") != NULL, "message: %s", en_error_msg());
    en_tensor_release(y);
    en_tensor_release(l);
    en_tensor_release(w);
}

/* Same seed, same thread count: the same bits, run after run. */
static float det_run(float *grads, int64_t *n) {
    en_rng r;
    en_rng_seed(&r, 77);
    en_params *p = en_params_new();
    en_tensor *w1 = en_params_add(p, "w1", EN_DIMS(64, 48)), *w2 = en_params_add(p, "w2", EN_DIMS(10, 64));
    en_rng_fill_normal(&r, en_tensor_f32(w1), 64 * 48, 0, 0.2f);
    en_rng_fill_normal(&r, en_tensor_f32(w2), 640, 0, 0.2f);
    en_tensor *x = en_tensor_randn(EN_DIMS(300, 48), &r, 0, 1);
    int64_t ys[300];
    for (int i = 0; i < 300; i++) ys[i] = (int64_t)en_rng_below(&r, 10);
    en_tensor *y = en_tensor_from_i64(EN_DIMS(300), ys);
    en_tensor *h = en_linear(x, w1, NULL), *a = en_gelu(h), *o = en_linear(a, w2, NULL);
    en_tensor *sm = en_softmax(o, -1), *l1 = en_cross_entropy(o, y), *l2 = en_mse(sm, sm);
    en_tensor *l = en_add(l1, l2);
    float v = en_tensor_item(l);
    en_backward(l);
    *n = en_params_numel(p);
    memcpy(grads, en_params_grad(p), (size_t)*n * sizeof(float));
    en_tensor *list[] = {x, y, h, a, o, sm, l1, l2, l};
    for (int i = 0; i < 9; i++) en_tensor_release(list[i]);
    en_params_free(p);
    return v;
}

Test(autograd, deterministic_at_fixed_threads) {
    en_set_num_threads(2);
    static float g1[8192], g2[8192];
    int64_t n1, n2;
    float a = det_run(g1, &n1), b = det_run(g2, &n2);
    cr_assert_eq(n1, n2);
    cr_expect(memcmp(&a, &b, sizeof a) == 0, "loss %.9g then %.9g", a, b);
    cr_expect(memcmp(g1, g2, (size_t)n1 * sizeof(float)) == 0, "gradients differ between runs");
}
