/* fg_internal — what the figures' .c files share: the parsed spec, the
 * style, the text helpers, the axis scales. Not part of the public API.
 *
 * Every fg_*_draw function takes (cairo_t *, box or plot, style, ...) and
 * brackets its work with cairo_save/cairo_restore; none creates a surface.
 * Missing numbers are NAN everywhere (JSON null, NaN, inf all become NAN). */
#ifndef FG_INTERNAL_H
#define FG_INTERNAL_H

#include <math.h>
#include <pango/pangocairo.h>

#include "fg.h"

typedef enum {
    FG_LINE, FG_CURVE, FG_BAR, FG_HEATMAP, FG_IMAGE_GRID, FG_MASK_OVERLAY, FG_PANELS,
    FG_KIND_COUNT
} fg_kind;

typedef enum { FG_SCALE_LINEAR, FG_SCALE_LOG2, FG_SCALE_LOG10, FG_SCALE_CATEGORY } fg_scale_kind;

/* Legend placement: AUTO scores the corners against the data. */
typedef enum {
    FG_LEG_AUTO, FG_LEG_NONE, FG_LEG_UR, FG_LEG_UL, FG_LEG_LR, FG_LEG_LL, FG_LEG_OUTSIDE
} fg_legend_pos;

typedef enum { FG_MARK_AUTO = -1, FG_MARK_NONE = 0, FG_MARK_CIRCLE, FG_MARK_SQUARE,
               FG_MARK_TRIANGLE, FG_MARK_DIAMOND, FG_MARK_COUNT } fg_marker;

typedef enum { FG_CMAP_VIRIDIS, FG_CMAP_DIVERGING, FG_CMAP_GRAY, FG_CMAP_BLUES } fg_cmap;

typedef struct { double r, g, b; } fg_rgb;

typedef struct { double *v; int n; } fg_vec;

typedef struct {
    char *name;
    fg_vec x, y, lo, hi, err;
    int has_color; fg_rgb color;
    int dash;            /* 0 solid, 1 dashed, 2 dotted, -1 auto */
    int marker;          /* fg_marker */
    double width;        /* pt; <= 0: the style's */
    double smooth;       /* NAN: the spec's (curves of 30+ points only) */
} fg_series;

typedef struct { double v; char *label; int dash; } fg_refline;
typedef struct { double x, y; char *text; } fg_note;

/* A decoded picture: ARGB32 surface, or an error saying why not. */
typedef struct {
    cairo_surface_t *surf;
    int w, h;
    char *err;           /* set when the picture could not be loaded */
    int empty;           /* a deliberately empty cell (JSON null) */
} fg_image;

struct fg_spec {
    fg_kind kind;
    char *title;
    double aspect;       /* <= 0: derived */

    /* line, curve, bar */
    char *x_label, *y_label;
    fg_scale_kind x_scale, y_scale;
    double x_min, x_max, y_min, y_max;   /* NAN: from the data */
    char **x_cats; int n_x_cats;          /* categorical x / bar categories */
    fg_series *series; int n_series;
    fg_refline *hlines; int n_hlines;
    fg_refline *vlines; int n_vlines;
    fg_note *notes; int n_notes;
    fg_legend_pos legend;
    double smooth;       /* EMA weight in [0,1) for curves */
    int markers;         /* -1 auto */
    int grid;
    int bar_values;

    /* heatmap */
    double *cells; int rows, cols;
    char **row_labels, **col_labels;
    fg_cmap cmap;
    double vmin, vmax;
    int cell_values;     /* -1 auto */
    int digits;          /* -1 auto */
    int colorbar;
    char *cbar_label;

    /* image_grid, mask_overlay: images[r * img_cols + c] */
    fg_image *images; int img_rows, img_cols;
    char **row_titles, **col_titles; int n_row_titles, n_col_titles;
    char **classes; int n_classes;
    int bg_class;        /* mask_overlay: the class left uncoloured */
    double gap;          /* pt between cells */

    /* panels */
    fg_spec **panels; int n_panels; int panel_cols; int panel_labels;
};

/* ---- style (fg_style.c) --------------------------------------------------- */
typedef struct {
    const char *family;   /* text */
    const char *mono;
    double size;          /* base text size, pt */
    double tick_size;     /* tick labels, legend */
    double line_w;        /* data lines */
    double axis_w;        /* spines, ticks */
    double grid_w;
    double tick_len;
    double marker_r;      /* marker radius */
    double pad;           /* small gap between text and things */
    fg_rgb ink, grid, faint;
} fg_style;

const fg_style *fg_style_get(void);
fg_rgb fg_palette(int i);          /* Okabe–Ito, cycled */
fg_rgb fg_cmap_at(fg_cmap m, double t);
void   fg_set_rgb(cairo_t *cr, fg_rgb c);
void   fg_set_rgba(cairo_t *cr, fg_rgb c, double a);
void   fg_set_dash(cairo_t *cr, int dash, double lw);

/* ---- text (fg_text.c): always pango, so PDF keeps it as text ------------- */
/* markup: pango markup (for 10<sup>3</sup>); else plain text. */
PangoLayout *fg_text_layout(cairo_t *cr, const char *text, double size, int bold, int markup);
void fg_text_size(cairo_t *cr, const char *text, double size, int markup, double *w, double *h);
/* Draw text with its anchor (ax, ay in 0..1 of the text's box) at (x, y),
 * rotated by angle (radians, about the anchor). */
void fg_text_draw(cairo_t *cr, const char *text, double size, int bold, int markup,
                  double x, double y, double ax, double ay, double angle);
/* Text wrapped to width (centred lines): its size, and drawing it. */
void fg_text_size_wrapped(cairo_t *cr, const char *text, double size, int markup, double width,
                          double *w, double *h, int *lines);
void fg_text_draw_wrapped(cairo_t *cr, const char *text, double size, int markup, double width,
                          double x, double y, double ax, double ay);
/* fg_text_draw (plain text) on a white ground, for labels drawn over data
 * or lines, ellipsized to maxw. */
void fg_text_draw_bg(cairo_t *cr, const char *text, double size, double x, double y,
                     double ax, double ay, double maxw);
/* fg_text_draw, ellipsized to maxw points when longer (maxw <= 0: never). */
void fg_text_draw_max(cairo_t *cr, const char *text, double size, int bold, int markup,
                      double x, double y, double ax, double ay, double angle, double maxw);
void fg_mark_draw(cairo_t *cr, fg_box box, const char *msg);  /* "no data" etc. */

/* ---- ticks (fg_ticks.c) --------------------------------------------------- */
#define FG_MAX_TICKS 128
typedef struct {
    int n;
    double v[FG_MAX_TICKS];
    char label[FG_MAX_TICKS][48];   /* pango markup */
    int nminor;
    double minor[FG_MAX_TICKS * 2];
    char suffix[48];                /* " (×10<sup>6</sup>)" for the axis title */
} fg_ticks;

/* Extended Wilkinson: best labelling of [dmin, dmax] with about m ticks.
 * Flags: FG_TICKS_LOOSE, labels cover the data; FG_TICKS_INTEGER, whole
 * steps only (epochs, counts). Returns 0 and fills lmin/lmax/step, or -1. */
enum { FG_TICKS_LOOSE = 1, FG_TICKS_INTEGER = 2 };
int  fg_ticks_wilkinson(double dmin, double dmax, int m, int flags,
                        double *lmin, double *lmax, double *step);
/* Ticks for an axis over [lo, hi] (already a good range) with about m. */
void fg_ticks_make(fg_ticks *t, fg_scale_kind scale, double lo, double hi, int m, int flags);
void fg_ticks_format(char *buf, size_t n, double v, double step);

/* ---- scales (fg_axis.c) --------------------------------------------------- */
typedef struct {
    fg_scale_kind kind;
    double lo, hi;        /* data units (for category: index -0.5 .. n-0.5) */
    double p0, p1;        /* device */
} fg_scale;

double fg_scale_fwd(const fg_scale *s, double v);   /* NAN when not drawable */
double fg_scale_t(fg_scale_kind k, double v);       /* transformed: log2/log10 */
double fg_scale_inv_t(fg_scale_kind k, double t);

/* Axis data range: lo/hi from the data (NAN: none), pinned by user limits,
 * padded and made nice. Ranges in transformed units for log scales. */
void fg_range_finish(fg_scale_kind k, double *lo, double *hi, double umin, double umax,
                     double pad_frac);

/* An axes frame: the plot area, the scales, the ticks. */
typedef struct {
    fg_box box, plot;
    fg_scale x, y;
    fg_ticks xt, yt;
    int x_rot;            /* x tick labels rotated */
    double x_wrap;        /* > 0: x labels wrapped to this width */
    int x_skip;           /* draw every x_skip-th x label */
    int x_int, y_int;     /* data are whole numbers: whole-number ticks */
    char **cats; int ncats;
} fg_axes;

/* Lay out axes in box: measures tick labels and titles, fills a->plot.
 * xlo..yhi are data ranges (transformed for log) already finished. right_reserve:
 * points kept free on the right (outside legend, colour bar). */
void fg_axes_layout(cairo_t *cr, fg_axes *a, fg_box box, const fg_spec *s,
                    double xlo, double xhi, double ylo, double yhi,
                    double right_reserve, double top_reserve);
void fg_axes_draw_grid(cairo_t *cr, const fg_axes *a, const fg_style *st, int grid);
void fg_axes_draw(cairo_t *cr, const fg_axes *a, const fg_style *st, const fg_spec *s);

/* ---- elements ------------------------------------------------------------- */
typedef struct {
    const char *label;
    fg_rgb color;
    int dash, marker, patch;   /* patch: a filled square (bars, classes) */
    double alpha;
} fg_legend_item;

/* horizontal: items in rows that flow within maxw (<= 0: one row). */
void fg_legend_size(cairo_t *cr, const fg_legend_item *it, int n, int horizontal, double maxw,
                    double *w, double *h);
void fg_legend_draw(cairo_t *cr, const fg_legend_item *it, int n, double x, double y,
                    int horizontal, double maxw, int framed);

/* Occupancy of the plot area: points where data ink lies, to keep a legend
 * off the data. */
typedef struct { double *x, *y; int n, cap; } fg_ink;
void fg_ink_add(fg_ink *k, double x, double y);
void fg_ink_segment(fg_ink *k, double x0, double y0, double x1, double y1, double step);
void fg_ink_rect(fg_ink *k, double x, double y, double w, double h, double step);
int  fg_ink_count(const fg_ink *k, double x, double y, double w, double h);
void fg_ink_free(fg_ink *k);

/* Choose a corner for a w x h legend in plot; returns 0 and the corner, or
 * -1 when every corner hides data (then the caller puts it outside). */
int  fg_legend_place(const fg_ink *k, fg_box plot, double w, double h, fg_legend_pos want,
                     double *x, double *y);

/* Reference lines: labels placed off the data (where[i]: bit 0 left end,
 * bit 1 below the line; their boxes join the ink), then drawn. */
void fg_hlines_place(cairo_t *cr, const fg_axes *a, const fg_spec *s, fg_ink *ink, int *where);
void fg_hlines_draw(cairo_t *cr, const fg_axes *a, const fg_spec *s, const int *where);

void fg_band_draw(cairo_t *cr, const fg_axes *a, const fg_vec *x, const fg_vec *lo,
                  const fg_vec *hi, fg_rgb c, double alpha);
void fg_marker_draw(cairo_t *cr, int marker, double x, double y, double r, fg_rgb c);
double fg_colorbar_width(cairo_t *cr, double h, double vmin, double vmax, const char *label);
void fg_colorbar_draw(cairo_t *cr, fg_box bar, fg_cmap m, double vmin, double vmax,
                      const char *label);
void fg_image_draw(cairo_t *cr, fg_box box, const fg_image *im);
void fg_image_paint(cairo_t *cr, cairo_surface_t *img, int w, int h, fg_box box);

/* Polyline with segments clipped to the plot (cairo breaks on huge coords). */
int  fg_clip_segment(fg_box b, double *x0, double *y0, double *x1, double *y1);

/* Kinds (one file each). Return 0, or -1 with err set. */
int fg_line_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen);
int fg_bar_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen);
int fg_heatmap_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen);
int fg_grid_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen);
double fg_grid_aspect(const fg_spec *s);

/* Masks (fg_mask.c): blend class map cls (w×h) over img (NULL: grey) at
 * alpha into out; the legend items of a mask overlay's classes. */
fg_rgb fg_mask_color(int cls, int bg);
int  fg_mask_overlay(fg_image *out, const fg_image *img, const unsigned char *cls, int w, int h,
                     int bg, double alpha);
int  fg_mask_legend_items(const fg_spec *s, fg_legend_item *it, int max);

/* Images (fg_image.c). */
int  fg_image_from_pixels(fg_image *im, int w, int h, int ch, const unsigned char *px);
void fg_image_clear(fg_image *im);
/* Decode base64; returns malloc'd bytes and *n, or NULL. */
unsigned char *fg_base64_decode(const char *s, size_t *n);

/* Small helpers. */
char *fg_strdup(const char *s);
/* fg_spec.c: JSON clean-ups before parsing (NaN words -> null; {} -> []),
 * and the structural check of a parsed tree without decoding pictures. */
struct cJSON;
char *fg_json_nonfinite_to_null(const char *json);
void  fg_json_empty_objects_to_arrays(struct cJSON *j);
int   fg_spec_validate_tree(const struct cJSON *o, const char *base_dir, char *err, size_t errlen);
void  fg_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int   fg_finite(double v);

#endif
