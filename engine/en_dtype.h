/* en_dtype — element types. Compute is float32; F16 and BF16 are storage
 * formats converted on load; integer types carry labels and token ids. */
#ifndef EN_DTYPE_H
#define EN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    EN_F32, EN_F16, EN_BF16, EN_F64, EN_I32, EN_I64, EN_U8, EN_BOOL,
    EN_DTYPE_COUNT
} en_dtype;

/* Bytes per element, and the safetensors / numpy-style name ("F32", ...). */
size_t      en_dtype_size(en_dtype t);
const char *en_dtype_name(en_dtype t);
/* Parse a safetensors dtype name; returns -1 when unknown. */
int         en_dtype_parse(const char *name);

/* Conversions of half-precision storage to float32 (round-trip exact for
 * every finite value, NaN and infinities kept) and back (round to nearest
 * even). */
float    en_f16_to_f32(uint16_t h);
uint16_t en_f32_to_f16(float f);
float    en_bf16_to_f32(uint16_t h);
uint16_t en_f32_to_bf16(float f);

#endif
