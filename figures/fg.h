/* fg — the figures library: draws every figure of the study from a spec.
 *
 * Contract (the renderer and the chapter runner rely on it):
 *   - A spec is plain data (JSON; the format, every kind and field with
 *     its default, is in figures/FORMAT.md) and knows nothing of the
 *     engine. Kinds: line, curve (training), bar, heatmap, image_grid,
 *     mask_overlay, panels.
 *   - fg_draw() draws into whatever surface the caller set up (PDF, SVG,
 *     PNG) inside a box, in points; it never creates a surface.
 *   - Image data in a spec is either a path to a PNG, relative to the
 *     spec's base directory (fg_spec_parse's base_dir; build/doc for the
 *     report) or inline pixels.
 *   - The document's fonts are set once with fg_set_fonts() so figures
 *     match the text around them.
 */
#ifndef FG_H
#define FG_H

#include <cairo.h>
#include <stddef.h>

typedef struct { double x, y, w, h; } fg_box;
typedef struct fg_spec fg_spec;

/* Parse a spec from JSON text. NULL on error, with a message in err. */
fg_spec *fg_spec_parse(const char *json, const char *base_dir, char *err, size_t errlen);
void     fg_spec_free(fg_spec *spec);

/* Preferred height / width for a figure of this spec (e.g. 0.62 for a plot,
 * rows/cols-dependent for an image grid); the typesetter sizes boxes by it. */
double   fg_spec_aspect(const fg_spec *spec);

/* Draw the figure into box on cr. Returns 0, or -1 with err filled when
 * something in the spec cannot be drawn (a missing PNG): then a clear
 * "cannot draw" mark is drawn in the box instead. */
int      fg_draw(cairo_t *cr, fg_box box, const fg_spec *spec, char *err, size_t errlen);

/* Render to a file chosen by extension: .pdf, .svg or .png (2 px per pt,
 * on white). width_pt <= 0: 390; height_pt <= 0: width × fg_spec_aspect.
 * -1 with err when the file cannot be written, or when fg_draw reported a
 * problem (the file is then written, with the mark). */
int      fg_render_file(const fg_spec *spec, const char *path, double width_pt,
                        double height_pt, char *err, size_t errlen);

/* Figure kinds: one name per kind, in the order of fg_kind (fg_internal.h;
 * a kind added there without its name here fails to build). "training" is
 * an alias of "curve". fg_kind_of: the kind's index, or -1. fg_kind_list:
 * "line, curve (training), bar, ..." for messages. */
extern const char *const fg_kind_names[];
extern const int fg_kind_count;
int         fg_kind_of(const char *name);
const char *fg_kind_list(void);

/* The chapter runner's check of a spec (JSON text), before it goes into a
 * fragment: everything fg_spec_parse checks, without decoding pictures;
 * and what a page cannot show is thinned or refused:
 *   - a line series of more than FG_THIN_MIN points on a sorted x is cut
 *     to the first, lowest, highest and last point (and the extremes'
 *     neighbours) of each of FG_THIN_COLUMNS columns across the plot
 *     (sub-pixel at any drawing resolution up to that many pixels, so the
 *     picture does not change; fg_check.c);
 *   - heatmaps over FG_MAX_HEATMAP cells, inline pictures over
 *     FG_MAX_PIXELS pixels in all, and unsorted series over FG_THIN_MIN*8
 *     points are refused with a message.
 * Returns 0 (*thinned NULL: keep the text as it is; else a malloc'd JSON
 * text to store instead), or -1 with err. */
#define FG_THIN_COLUMNS 4096
#define FG_THIN_MIN     (8 * FG_THIN_COLUMNS)
#define FG_MAX_HEATMAP  250000
#define FG_MAX_PIXELS   (16 * 1024 * 1024)
int fg_spec_check(const char *json, const char *base_dir, char **thinned, char *err, size_t errlen);

/* The same from a cJSON object already parsed (the report's fragment). */
struct cJSON;
fg_spec *fg_spec_from_cjson(const struct cJSON *obj, const char *base_dir, char *err, size_t errlen);

/* Building a line, curve or bar spec from C (values are copied; lo/hi may
 * be NULL, x may be NULL for 1..n). fg_spec_set keys: title, x_label,
 * y_label, x_scale, y_scale, legend (values as in FORMAT.md). Other kinds:
 * build a cJSON tree and use fg_spec_from_cjson. All return 0 or -1. */
fg_spec *fg_spec_new(const char *kind);
int      fg_spec_set(fg_spec *spec, const char *key, const char *value);
int      fg_spec_add_series(fg_spec *spec, const char *name, const double *x, const double *y,
                            const double *lo, const double *hi, int n);
int      fg_spec_add_hline(fg_spec *spec, double y, const char *label);

/* `clipbook figure SPEC.json --out x.pdf|x.svg|x.png [--width PT] [--height PT]
 * [--font FAMILY] [--size PT]` (a cli_cmd: argv[0] is "figure"; returns 0 ok, 1 failure, 2 usage). */
int      fg_cmd_figure(int argc, char **argv);

/* The figure as SVG text (malloc'd, NUL-terminated, *len bytes) for
 * inlining in HTML: every id and reference gets id_prefix (e.g. "fig3-"),
 * so several figures in one page do not share cairo's glyph ids. NULL on
 * failure; a drawable figure with a missing picture is returned with err
 * set, like fg_draw. */
char    *fg_render_svg(const fg_spec *spec, double width_pt, double height_pt, const char *id_prefix,
                       size_t *len, char *err, size_t errlen);

/* Fonts (pango family names) and base size in points for all figures;
 * tick labels and legends use 0.88 of it. Default: DejaVu Sans, 9 pt.
 * NULL or size <= 3 leaves that setting as it is. */
void     fg_set_fonts(const char *text_family, const char *mono_family, double size_pt);

#endif
