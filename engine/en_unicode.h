/* en_unicode — the bits of Unicode the CLIP tokenizer needs: UTF-8 decoding,
 * the letter / number / white-space classes of the split pattern, Python's
 * str.lower() and html.unescape(). Tables are generated from Python's
 * unicodedata by engine/tools/gen_unicode.py (en_unicode_data.c). */
#ifndef EN_UNICODE_H
#define EN_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "en_utf8.h" /* the tokenizer decodes with it */

typedef struct { uint32_t lo, hi; } en_uni_range;
typedef struct { uint32_t cp; const char *lower; } en_uni_lower;
typedef struct { const char *name, *text; } en_html_entity;

extern const en_uni_range en_uni_letters[], en_uni_numbers[], en_uni_space[];
extern const int en_uni_letters_n, en_uni_numbers_n, en_uni_space_n;
/* Final sigma context classes (cased and not case-ignorable; case-ignorable). */
extern const en_uni_range en_uni_cased[], en_uni_case_ignorable[];
extern const int en_uni_cased_n, en_uni_case_ignorable_n;
extern const en_uni_lower en_uni_lowers[];
extern const int en_uni_lowers_n;
extern const en_html_entity en_html_entities[];
extern const int en_html_entities_n;
/* Python's html._invalid_charrefs (cp -> replacement) and _invalid_codepoints. */
extern const en_uni_lower en_html_charref_fixes[];
extern const int en_html_charref_fixes_n;
extern const en_uni_range en_html_invalid_cps[];
extern const int en_html_invalid_cps_n;

int  en_uni_is_letter(uint32_t cp);
int  en_uni_is_number(uint32_t cp);
int  en_uni_is_space(uint32_t cp);

/* Python's str.lower() of s (UTF-8); malloc'd, NUL-terminated. */
char *en_uni_lower_str(const char *s);
/* Python's html.unescape() of s; malloc'd, NUL-terminated. */
char *en_html_unescape(const char *s);

#endif
