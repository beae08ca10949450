/* The CLIP commands of `clipbook`: tokenize, embed-images, embed-texts,
 * classify. Each failure is one line on stderr and a non-zero exit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_bpe.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_image.h"
#include "en_npy.h"
#include "en_preprocess.h"
#include "cli_cmd.h"

int cli_cmd_tokenize(int argc, char **argv);
int cli_cmd_embed_images(int argc, char **argv);
int cli_cmd_embed_texts(int argc, char **argv);
int cli_cmd_classify(int argc, char **argv);

typedef struct {
    const char *model, *vocab, *out, *labels, *template;
    int prepool, batch, truncate, first;
    en_precision prec; /* --precision fp32|bf16 (engine/en_bf16.h) */
} clip_args;

/* Options first, then the operands (or "--" before them). */
static int parse(const char *cmd, int argc, char **argv, clip_args *a) {
    memset(a, 0, sizeof *a);
    a->batch = 32;
    a->template = "a photo of a {}.";
    a->first = argc;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "--model") && has) a->model = argv[++i];
        else if (!strcmp(o, "--vocab") && has) a->vocab = argv[++i];
        else if (!strcmp(o, "--out") && has) a->out = argv[++i];
        else if (!strcmp(o, "--labels") && has) a->labels = argv[++i];
        else if (!strcmp(o, "--template") && has) a->template = argv[++i];
        else if (!strcmp(o, "--batch") && has) {
            a->batch = atoi(argv[++i]);
            if (a->batch <= 0) { fprintf(stderr, "clipbook %s: --batch must be positive\n", cmd); return -1; }
        }
        else if (!strcmp(o, "--precision") && has) {
            const char *p = argv[++i];
            if (strcmp(p, "fp32") && strcmp(p, "bf16")) {
                fprintf(stderr, "clipbook %s: --precision must be fp32 or bf16, got '%s'\n", cmd, p);
                return -1;
            }
            a->prec = strcmp(p, "bf16") == 0 ? EN_PREC_BF16 : EN_PREC_FP32;
        }
        else if (!strcmp(o, "--pre-pool")) a->prepool = 1;
        else if (!strcmp(o, "--truncate")) a->truncate = 1;
        else if (!strcmp(o, "--")) { a->first = i + 1; break; }
        else if (o[0] == '-' && o[1]) { fprintf(stderr, "clipbook %s: unknown option '%s'\n", cmd, o); return -1; }
        else { a->first = i; break; }
    }
    return 0;
}

/* The start of a text for a message: at most ~40 bytes, cut at a character
 * boundary and marked "...", bytes that are not UTF-8 written as \xNN (so
 * the message itself stays valid UTF-8 wherever it is shown). */
static const char *preview(const char *t, char *out, size_t cap) {
    size_t o = 0, i = 0;
    while (t[i] && o + 8 < cap && i < 40) {
        unsigned char c = (unsigned char)t[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        size_t k = 1;
        while (len && k < len && ((unsigned char)t[i + k] & 0xc0) == 0x80) k++;
        if (!len || k < len || (len == 1 && c < 0x20)) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
            i++;
            continue;
        }
        memcpy(out + o, t + i, len);
        o += len; i += len;
    }
    if (t[i] && o + 4 <= cap) { memcpy(out + o, "...", 3); o += 3; }
    out[o] = 0;
    return out;
}

static int fail(const char *cmd, const char *what) {
    fprintf(stderr, "clipbook %s: %s\n", cmd, what ? what : en_error_msg());
    return 1;
}

int cli_cmd_tokenize(int argc, char **argv) {
    clip_args a;
    if (parse("tokenize", argc, argv, &a) < 0) return 2;
    if (!a.vocab || a.first >= argc) {
        fprintf(stderr, "usage: clipbook tokenize --vocab VOCAB TEXT...\n"
                        "  prints one line per text: the token ids without padding\n");
        return 2;
    }
    en_bpe *b = en_bpe_load(a.vocab, -1);
    if (!b) return fail("tokenize", NULL);
    for (int i = a.first; i < argc; i++) {
        int total = 0, cap = 64;
        int32_t *ids = NULL;
        for (;;) {
            ids = realloc(ids, (size_t)cap * sizeof *ids);
            if (!ids) abort();
            if (en_bpe_encode(b, argv[i], ids, cap, &total) < 0) {
                char pv[128];
                en_error_prefix("text %d ('%s')", i - a.first + 1, preview(argv[i], pv, sizeof pv));
                free(ids); en_bpe_free(b);
                return fail("tokenize", NULL);
            }
            if (total <= cap) break;
            cap = total;
        }
        printf("%d", en_bpe_sot(b));
        for (int k = 0; k < total; k++) printf(" %d", ids[k]);
        printf(" %d\n", en_bpe_eot(b));
        free(ids);
    }
    en_bpe_free(b);
    return 0;
}

/* Image features (or pre-pool features) of files, in input order: each
 * batch is read and preprocessed (resize, crop, CLIP's normalisation), then
 * encoded by the engine's one batched encoder straight into its rows. */
static en_tensor *embed_images(en_clip *m, char **paths, int n, int prepool, int batch, en_precision prec) {
    int R = en_clip_get_config(m)->image_resolution;
    int64_t shape[4] = {n, 0, 0, 0}, per = 1;
    int nd = en_clip_feature_dims(m, prepool, shape + 1);
    for (int d = 1; d <= nd; d++) per *= shape[d];
    en_tensor *all = en_tensor_empty(nd + 1, shape);
    float *x = malloc((size_t)batch * 3 * (size_t)R * (size_t)R * sizeof *x);
    if (!x) abort();
    for (int s = 0; s < n; s += batch) {
        int nb = n - s < batch ? n - s : batch, bad = -1;
        char msg[1024] = "";
        #pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < nb; i++) {
            en_ndbuf img;
            if (en_image_read(paths[s + i], 3, &img) < 0 ||
                en_clip_preprocess(x + (size_t)i * 3 * R * R, img.data, (int)img.shape[0], (int)img.shape[1], R, NULL, NULL) < 0) {
                #pragma omp critical(embed_err)
                if (bad < 0) { bad = s + i; snprintf(msg, sizeof msg, "%s", en_error_msg()); }
            }
            en_ndbuf_free(&img);
        }
        if (bad >= 0) { free(x); en_tensor_release(all); en_error("%s", msg); return NULL; }
        if (en_clip_encode_images_precision(m, x, nb, 1, nb, prepool, prec, en_tensor_f32(all) + (size_t)s * (size_t)per) < 0) {
            free(x);
            en_tensor_release(all);
            return NULL;
        }
    }
    free(x);
    return all;
}

static en_tensor *embed_texts(en_clip *m, en_bpe *b, char **texts, int n, int truncate, en_precision prec) {
    int ctx = en_clip_get_config(m)->context_length;
    int32_t *ids = malloc((size_t)ctx * sizeof *ids);
    int64_t *tok = malloc((size_t)n * ctx * sizeof *tok);
    if (!ids || !tok) abort();
    for (int i = 0; i < n; i++) {
        if (en_bpe_tokenize(b, texts[i], ctx, truncate, ids) < 0) {
            char pv[128];
            en_error_prefix("text %d ('%s')", i + 1, preview(texts[i], pv, sizeof pv));
            free(ids); free(tok);
            return NULL;
        }
        for (int k = 0; k < ctx; k++) tok[(size_t)i * ctx + k] = ids[k];
    }
    en_tensor *t = en_tensor_from_i64(EN_DIMS(n, ctx), tok);
    free(ids); free(tok);
    en_tensor *f = en_clip_encode_text_precision(m, t, prec);
    en_tensor_release(t);
    return f;
}

static int write_npy(const char *path, en_tensor *t) {
    en_ndbuf b = { .dtype = EN_F32, .ndim = t->ndim, .data = en_tensor_f32(t),
                   .nbytes = (size_t)en_tensor_numel(t) * sizeof(float) };
    for (int d = 0; d < t->ndim; d++) b.shape[d] = t->shape[d];
    return en_npy_write(path, &b);
}

int cli_cmd_embed_images(int argc, char **argv) {
    clip_args a;
    if (parse("embed-images", argc, argv, &a) < 0) return 2;
    if (!a.model || !a.out || a.first >= argc) {
        fprintf(stderr, "usage: clipbook embed-images --model M.safetensors [--pre-pool] [--batch N] [--precision fp32|bf16] --out feats.npy IMAGE...\n");
        return 2;
    }
    en_clip *m = en_clip_load(a.model);
    if (!m) return fail("embed-images", NULL);
    int prev = en_grad_set_enabled(0);
    en_tensor *f = embed_images(m, argv + a.first, argc - a.first, a.prepool, a.batch, a.prec);
    int rc = f && write_npy(a.out, f) == 0 ? 0 : fail("embed-images", NULL);
    en_grad_set_enabled(prev);
    en_tensor_release(f);
    en_clip_free(m);
    return rc;
}

int cli_cmd_embed_texts(int argc, char **argv) {
    clip_args a;
    if (parse("embed-texts", argc, argv, &a) < 0) return 2;
    if (!a.model || !a.vocab || !a.out || a.first >= argc) {
        fprintf(stderr, "usage: clipbook embed-texts --model M.safetensors --vocab V [--truncate] [--precision fp32|bf16] --out feats.npy TEXT...\n");
        return 2;
    }
    en_bpe *b = en_bpe_load(a.vocab, -1);
    if (!b) return fail("embed-texts", NULL);
    en_clip *m = en_clip_load(a.model);
    if (!m) { en_bpe_free(b); return fail("embed-texts", NULL); }
    int prev = en_grad_set_enabled(0);
    en_tensor *f = embed_texts(m, b, argv + a.first, argc - a.first, a.truncate, a.prec);
    int rc = f && write_npy(a.out, f) == 0 ? 0 : fail("embed-texts", NULL);
    en_grad_set_enabled(prev);
    en_tensor_release(f);
    en_clip_free(m);
    en_bpe_free(b);
    return rc;
}

int cli_cmd_classify(int argc, char **argv) {
    clip_args a;
    if (parse("classify", argc, argv, &a) < 0) return 2;
    if (!a.model || !a.vocab || !a.labels || a.first >= argc) {
        fprintf(stderr, "usage: clipbook classify --model M --vocab V --labels \"cat,dog,...\" "
                        "[--template \"a photo of a {}.\"] [--precision fp32|bf16] IMAGE...\n");
        return 2;
    }
    const char *brace = strstr(a.template, "{}");
    if (!brace) { fprintf(stderr, "clipbook classify: the template has no {}\n"); return 2; }
    /* labels -> prompts */
    char *labels = strdup(a.labels), **names = NULL, **prompts = NULL;
    int nl = 0;
    for (char *save, *tok = strtok_r(labels, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        names = realloc(names, (size_t)(nl + 1) * sizeof *names);
        prompts = realloc(prompts, (size_t)(nl + 1) * sizeof *prompts);
        size_t len = strlen(a.template) + strlen(tok);
        prompts[nl] = malloc(len + 1);
        snprintf(prompts[nl], len + 1, "%.*s%s%s", (int)(brace - a.template), a.template, tok, brace + 2);
        names[nl++] = tok;
    }
    int rc = 1;
    en_bpe *b = NULL;
    en_clip *m = NULL;
    en_tensor *tf = NULL, *imf = NULL;
    int prev = en_grad_set_enabled(0);
    if (nl < 1) { fprintf(stderr, "clipbook classify: no labels\n"); rc = 2; goto done; }
    if (!(b = en_bpe_load(a.vocab, -1))) { fail("classify", NULL); goto done; }
    if (!(m = en_clip_load(a.model))) { fail("classify", NULL); goto done; }
    if (!(tf = embed_texts(m, b, prompts, nl, 1, a.prec))) { fail("classify", NULL); goto done; }
    if (!(imf = embed_images(m, argv + a.first, argc - a.first, 0, a.batch, a.prec))) { fail("classify", NULL); goto done; }
    en_tensor *tn = en_l2_normalize(tf, -1, 1e-12f), *in = en_l2_normalize(imf, -1, 1e-12f);
    en_tensor *tt = en_transpose(tn, 0, 1), *logits = en_matmul(in, tt);
    float scale = expf(en_tensor_item(en_clip_logit_scale(m)));
    en_tensor *sl = en_mul_scalar(logits, scale), *p = en_softmax(sl, -1);
    const float *pd = en_tensor_f32(p);
    for (int i = 0; i < argc - a.first; i++) {
        printf("%s\n", argv[a.first + i]);
        int used[5] = {-1, -1, -1, -1, -1};
        for (int r = 0; r < 5 && r < nl; r++) {
            int best = -1;
            for (int k = 0; k < nl; k++) {
                int taken = 0;
                for (int q = 0; q < r; q++) taken |= used[q] == k;
                if (!taken && (best < 0 || pd[(size_t)i * nl + k] > pd[(size_t)i * nl + best])) best = k;
            }
            used[r] = best;
            printf("  %6.2f%%  %s\n", 100.0 * pd[(size_t)i * nl + best], names[best]);
        }
    }
    en_tensor_release(tn); en_tensor_release(in); en_tensor_release(tt);
    en_tensor_release(logits); en_tensor_release(sl); en_tensor_release(p);
    rc = 0;
done:
    en_grad_set_enabled(prev);
    en_tensor_release(tf); en_tensor_release(imf);
    en_clip_free(m);
    en_bpe_free(b);
    for (int i = 0; i < nl; i++) free(prompts[i]);
    free(prompts); free(names); free(labels);
    return rc;
}
