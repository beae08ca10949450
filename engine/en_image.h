/* en_image — PNG (libpng) and JPEG (libjpeg-turbo) decoding to uint8 HWC
 * buffers, and PNG encoding.
 *
 * Decoding returns an en_ndbuf of dtype U8, shape (H, W, C), C = 3 or 4:
 *   channels = 3: RGB; alpha is dropped without compositing, as Pillow's
 *                 Image.convert("RGB") does (what CLIP's preprocessing uses);
 *   channels = 4: RGBA; opaque images get alpha 255;
 *   channels = 0: whichever the file holds (4 when it has alpha or tRNS);
 *   channels = 1: a label mask: the stored samples themselves, shape (H, W, 1):
 *                 gray levels of a gray PNG of depth <= 8 unscaled (a 1-bit 1
 *                 stays 1), palette indices without the colour lookup; any
 *                 other PNG, and every JPEG, is an error.
 * Gray, gray+alpha, palette (with or without tRNS) and 1/2/4/16-bit PNGs are
 * converted; 16-bit samples keep their high byte (as libpng's strip_16 and
 * Pillow's RGB;16B do). JPEG: baseline and progressive, gray or YCbCr,
 * decoded with the ISLOW DCT and fancy upsampling (Pillow's defaults);
 * CMYK is an error. A truncated or corrupt file is an error naming the file
 * and what the library said; libpng/libjpeg errors longjmp back here and
 * everything allocated is freed.
 */
#ifndef EN_IMAGE_H
#define EN_IMAGE_H

#include <stddef.h>

#include "en_ndbuf.h"

/* Reads a PNG or JPEG file (sniffed from its first bytes). */
int en_image_read(const char *path, int channels, en_ndbuf *out);
/* The same from bytes in memory; `name` is used in messages. */
int en_image_decode(const void *data, size_t len, const char *name, int channels, en_ndbuf *out);

/* Writes a U8 image, shape (H, W) or (H, W, C) with C in 1..4 (gray, gray +
 * alpha, RGB, RGBA), as PNG, atomically. */
int en_image_write_png(const char *path, const en_ndbuf *img);

/* Images larger than this many pixels are refused before any pixel buffer is
 * allocated (default 1 << 26, 8192 x 8192); returns the previous limit. */
size_t en_image_set_max_pixels(size_t n);

#endif
