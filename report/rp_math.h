/* rp_math — a TeX subset for the study's formulas: parsed once, then laid
 * out and drawn with pango/cairo for the PDF, or written as MathML for the
 * HTML page.
 *
 * Supported: letters (italic), numbers (upright), + - * / = < > : ( ) [ ]
 * , ; and primes; ^ and _; {groups}; \frac \dfrac \tfrac, \sqrt[n]{};
 * Greek (\alpha ... \Omega, \varepsilon ...); big operators \sum \prod
 * \int \bigcup ... (limits above/below in display style, scripts inline;
 * \limits \nolimits); named operators \exp \log \max \min \argmax \lim
 * ..., \operatorname{} and \operatorname*{} (limits), \mathop{};
 * \mathrm \mathit \mathbf \boldsymbol \mathcal \mathbb \mathsf \mathtt,
 * \text{}; accents \hat \widehat \bar \overline \tilde \vec \dot \ddot;
 * \overbrace \underbrace (labels as ^ and _); \overset \underset \stackrel;
 * \left \middle \right with ( ) [ ] \{ \} | \| \langle \rangle \lfloor ... or
 * '.', \big \Big \bigg \Bigg (l/r); relations and operators \cdot \times \pm
 * \le \ge \ne \approx \sim \equiv \propto \in \to \mapsto \mid ...;
 * \infty \partial \nabla \top \ell \dots \cdots; spacing \, \: \; \! \quad
 * \qquad ~; \displaystyle ...; environments matrix pmatrix bmatrix Bmatrix
 * vmatrix Vmatrix cases aligned gathered (& and \\), \substack{a \\ b}.
 *
 * Errors read "column N: expected ..." (N counts characters from 1).
 */
#ifndef RP_MATH_H
#define RP_MATH_H

#include <cairo.h>
#include <stddef.h>

typedef struct rp_math rp_math;

/* Parse tex; display selects display style (big operators with limits
 * above and below). NULL on a syntax error, with a message in err. */
rp_math *rp_math_parse(const char *tex, int display, char *err, size_t errlen);
void     rp_math_free(rp_math *m);

/* Lay out at size_pt with the text family (e.g. "TeX Gyre Pagella") for
 * letters and digits; extents in points: width, ascent above the baseline
 * and descent below it. Call before rp_math_draw; may be called again with
 * another size. cr only supplies the font context (cairo user units are
 * points; hinting is off, so the metrics suit any target); NULL is fine. */
void     rp_math_layout(rp_math *m, cairo_t *cr, const char *family, double size_pt,
                        double *width, double *ascent, double *descent);
/* Draw the laid-out formula with its baseline's left end at (x, y). */
void     rp_math_draw(rp_math *m, cairo_t *cr, double x, double y);

/* The symbol font. By default (NULL) the text family's math companion,
 * "<family> Math" (TeX Gyre Termes Math for TeX Gyre Termes), when it is
 * installed, else "TeX Gyre Pagella Math". A font without an OpenType
 * MATH table works too: delimiters are then drawn as paths. */
void     rp_math_set_math_family(rp_math *m, const char *family);

/* Where TeX may break an inline formula across lines: after a relation or
 * a binary operator at the top level (never inside braces, never between
 * two relations). Returns a malloc'd array of *n formulas (just a copy
 * when there is no break point, and always for display style), each to be
 * laid out and drawn on its own; the space after the operator ends its
 * part. The caller frees each with rp_math_free, then the array. */
rp_math **rp_math_split(const rp_math *m, int *n);

/* A malloc'd <math> element (display="block" in display style). */
char    *rp_math_to_mathml(const rp_math *m);

/* A malloc'd one-line dump of the parse tree, for tests and debugging:
 * atoms by text (class "op:" "bin:" ... and font "rm:" ... tags when not
 * the default), {lists}, (frac a b), (sqrt a), (acc:302 a), (fence ( a )),
 * (sub a b) (sup a b) (subsup a b c), #numbers, "text", ~mu spaces. */
char    *rp_math_dump(const rp_math *m);

#endif
