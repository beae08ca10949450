/* PNG and JPEG through libpng and libjpeg-turbo.
 *
 * Both libraries report fatal errors by calling a hook that must not
 * return; ours record the message and longjmp back to the decoder. Every
 * allocation the decoder makes is hung on a heap-allocated context (never on
 * an automatic variable changed after setjmp, whose value would be
 * indeterminate after the jump), so the one cleanup path frees it all. */
#include "en_image.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
/* After stdio.h: jpeglib.h uses FILE without including it. */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"

static size_t max_pixels = (size_t)1 << 26;

size_t en_image_set_max_pixels(size_t n) {
    size_t old = max_pixels;
    max_pixels = n;
    return old;
}

static int check_size(const char *name, const char *kind, size_t w, size_t h) {
    if (w == 0 || h == 0) return en_error("%s: %s image has zero size (%zux%zu)", name, kind, w, h);
    if (w > max_pixels / h)
        return en_error("%s: %s image of %zux%zu pixels is larger than the limit of %zu pixels", name, kind, w, h,
                        max_pixels);
    return 0;
}

/* ---- PNG decoding ---------------------------------------------------- */

typedef struct {
    const unsigned char *data;
    size_t len, pos;
    char msg[200];
    unsigned char *pixels;
    png_bytep *rows;
} png_ctx;

static void png_err(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_mem(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "unexpected end of file (truncated?)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

static int decode_png(const unsigned char *data, size_t len, const char *name, int want, en_ndbuf *out) {
    png_ctx *c = calloc(1, sizeof *c);
    if (!c) return en_error("%s: out of memory", name);
    c->data = data;
    c->len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, png_err, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        free(c);
        return en_error("%s: out of memory", name);
    }
    int rc = -1;
    if (setjmp(png_jmpbuf(png))) {
        en_error("%s: PNG: %s", name, c->msg);
        goto done;
    }
    png_set_read_fn(png, c, png_read_mem);
    png_set_user_limits(png, 1u << 20, 1u << 20);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* Let the fuzzer past checksums it cannot guess. */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (check_size(name, "PNG", w, h)) goto done;
    int has_alpha = (type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
    int ch = want ? want : has_alpha ? 4 : 3;

    if (want == 1) {
        /* Label masks: the stored sample is the label, so no scaling of
         * low bit depths (packing, not expand) and no palette lookup. */
        if ((type != PNG_COLOR_TYPE_GRAY && type != PNG_COLOR_TYPE_PALETTE) || depth > 8) {
            en_error("%s: PNG: a label mask must be an 8-bit (or less) gray or palette PNG, not %s at bit depth %d", name,
                     type == PNG_COLOR_TYPE_RGB ? "RGB" : type == PNG_COLOR_TYPE_RGB_ALPHA ? "RGBA"
                     : type == PNG_COLOR_TYPE_GRAY_ALPHA ? "gray+alpha" : type == PNG_COLOR_TYPE_GRAY ? "gray" : "palette",
                     depth);
            goto done;
        }
        if (depth < 8) png_set_packing(png);
    } else {
        if (depth == 16) png_set_strip_16(png);
        if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
        if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        if (ch == 3 && has_alpha) png_set_strip_alpha(png);
        if (ch == 4 && !has_alpha) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != ch || png_get_rowbytes(png, info) != (size_t)w * ch ||
        png_get_bit_depth(png, info) != 8) {
        en_error("%s: PNG: unexpected layout after conversion (%d channels, bit depth %d)", name,
                 png_get_channels(png, info), png_get_bit_depth(png, info));
        goto done;
    }
    size_t stride = (size_t)w * ch;
    c->pixels = malloc(stride * h);
    c->rows = malloc(h * sizeof *c->rows);
    if (!c->pixels || !c->rows) { en_error("%s: out of memory for a %ux%u image", name, w, h); goto done; }
    for (size_t y = 0; y < h; y++) c->rows[y] = c->pixels + y * stride;
    png_read_image(png, c->rows);
    /* The trailing chunks (text, time) are not needed: not reading them
     * keeps a file cut after its image data decodable, as Pillow does. */
    memset(out, 0, sizeof *out);
    out->dtype = EN_U8;
    out->ndim = 3;
    out->shape[0] = h; out->shape[1] = w; out->shape[2] = ch;
    out->data = c->pixels;
    out->nbytes = stride * h;
    c->pixels = NULL;
    rc = 0;
done:
    png_destroy_read_struct(&png, &info, NULL);
    free(c->pixels);
    free(c->rows);
    free(c);
    return rc;
}

/* ---- JPEG decoding --------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
    unsigned char *pixels;
} jpg_ctx;

static void jpg_error_exit(j_common_ptr cinfo) {
    jpg_ctx *c = (jpg_ctx *)cinfo->err;
    c->pub.format_message(cinfo, c->msg);
    longjmp(c->jb, 1);
}

/* Warnings are ignored as Pillow ignores them (cameras write "extraneous
 * bytes" routinely), except a premature end of data, which libjpeg would
 * paper over with grey and which Pillow also refuses. */
static void jpg_emit(j_common_ptr cinfo, int level) {
    jpg_ctx *c = (jpg_ctx *)cinfo->err;
    if (level < 0 && c->pub.msg_code == JWRN_JPEG_EOF) c->truncated = 1;
}

static int decode_jpeg(const unsigned char *data, size_t len, const char *name, int want, en_ndbuf *out) {
    jpg_ctx *c = calloc(1, sizeof *c);
    struct jpeg_decompress_struct *ci = calloc(1, sizeof *ci);
    if (!c || !ci) { free(c); free(ci); return en_error("%s: out of memory", name); }
    ci->err = jpeg_std_error(&c->pub);
    c->pub.error_exit = jpg_error_exit;
    c->pub.emit_message = jpg_emit;
    int rc = -1;
    if (setjmp(c->jb)) {
        en_error("%s: JPEG: %s", name, c->msg);
        goto done;
    }
    jpeg_create_decompress(ci);
    jpeg_mem_src(ci, data, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    if (want == 1) {
        en_error("%s: JPEG: a label mask must be a PNG (JPEG's lossy coding changes label values)", name);
        goto done;
    }
    if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK) {
        en_error("%s: JPEG: CMYK images are not supported", name);
        goto done;
    }
    if (check_size(name, "JPEG", ci->image_width, ci->image_height)) goto done;
    ci->out_color_space = JCS_RGB;
    ci->dct_method = JDCT_ISLOW;
    ci->do_fancy_upsampling = TRUE;
    jpeg_start_decompress(ci);
    if (ci->output_components != 3) {
        en_error("%s: JPEG: decoder gave %d components, expected 3", name, ci->output_components);
        goto done;
    }
    int ch = want ? want : 3;
    size_t w = ci->output_width, h = ci->output_height, stride = w * (size_t)ch;
    c->pixels = malloc(stride * h);
    if (!c->pixels) { en_error("%s: out of memory for a %zux%zu image", name, w, h); goto done; }
    while (ci->output_scanline < h) {
        unsigned char *row = c->pixels + ci->output_scanline * stride;
        jpeg_read_scanlines(ci, &row, 1);
        if (ch == 4) /* spread RGB to RGBA in place, from the right */
            for (size_t x = w; x-- > 0;) {
                row[4 * x + 3] = 255;
                row[4 * x + 2] = row[3 * x + 2];
                row[4 * x + 1] = row[3 * x + 1];
                row[4 * x + 0] = row[3 * x + 0];
            }
        if (c->truncated) break;
    }
    if (c->truncated) { en_error("%s: JPEG: premature end of data (truncated?)", name); goto done; }
    jpeg_finish_decompress(ci);
    memset(out, 0, sizeof *out);
    out->dtype = EN_U8;
    out->ndim = 3;
    out->shape[0] = (int64_t)h; out->shape[1] = (int64_t)w; out->shape[2] = ch;
    out->data = c->pixels;
    out->nbytes = stride * h;
    c->pixels = NULL;
    rc = 0;
done:
    jpeg_destroy_decompress(ci);
    free(c->pixels);
    free(c);
    free(ci);
    return rc;
}

/* ---- entry points ---------------------------------------------------- */

int en_image_decode(const void *data, size_t len, const char *name, int channels, en_ndbuf *out) {
    const unsigned char *d = data;
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
        return en_error("%s: channels must be 0, 1, 3 or 4 (got %d)", name, channels);
    if (len >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) return decode_png(d, len, name, channels, out);
    if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) return decode_jpeg(d, len, name, channels, out);
    return en_error("%s: not a PNG or JPEG file", name);
}

int en_image_read(const char *path, int channels, en_ndbuf *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) { fclose(f); return en_error("%s: not a regular file", path); }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) { fclose(f); return en_error("%s: out of memory", path); }
    size_t got = fread(buf, 1, len, f);
    fclose(f);
    if (got != len) { free(buf); return en_error("%s: read failed", path); }
    int rc = en_image_decode(buf, len, path, channels, out);
    free(buf);
    return rc;
}

/* ---- PNG encoding ---------------------------------------------------- */

typedef struct {
    char msg[200];
    png_bytep *rows;
} png_wctx;

static void png_werr(png_structp png, png_const_charp msg) {
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

int en_image_write_png(const char *path, const en_ndbuf *img) {
    int ch = img->ndim == 2 ? 1 : img->ndim == 3 ? (int)img->shape[2] : 0;
    if (img->dtype != EN_U8 || ch < 1 || ch > 4)
        return en_error("%s: PNG needs a U8 image of shape (H, W) or (H, W, 1..4)", path);
    int64_t h = img->shape[0], w = img->shape[1];
    if (h <= 0 || w <= 0 || h > (1 << 24) || w > (1 << 24) || (size_t)(h * w * ch) != img->nbytes)
        return en_error("%s: image shape and byte count disagree", path);
    static const int types[5] = { 0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                  PNG_COLOR_TYPE_RGBA };
    png_wctx *c = calloc(1, sizeof *c);
    if (!c) return en_error("%s: out of memory", path);
    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    if (!f) { free(c); return -1; }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, png_werr, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = -1;
    if (!info) { en_error("%s: out of memory", path); goto done; }
    if (setjmp(png_jmpbuf(png))) { en_error("%s: PNG: %s", path, c->msg); goto done; }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[ch], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    c->rows = malloc((size_t)h * sizeof *c->rows);
    if (!c->rows) { en_error("%s: out of memory", path); goto done; }
    for (int64_t y = 0; y < h; y++) c->rows[y] = (png_bytep)img->data + (size_t)y * (size_t)w * ch;
    png_set_rows(png, info, c->rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    rc = 0;
done:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    a.failed = rc != 0;
    rc = en_atomic_commit(&a);
    free(c->rows);
    free(c);
    return rc;
}
