/* fg_ticks — where the ticks go and what they say.
 *
 * Linear axes: the extended Wilkinson algorithm of Talbot, Lin & Hanrahan,
 * "An Extension of Wilkinson's Algorithm for Positioning Tick Labels on
 * Axes" (InfoVis 2010): search step sizes q·10^z·j over the nice numbers Q,
 * scoring simplicity, coverage and density, pruned by upper bounds. Every
 * loop here has a hard bound, so no input (huge ranges, denormals) hangs.
 * Log axes: powers of the base, thinned to about m labels. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "fg_internal.h"

static const double Q[] = { 1, 5, 2, 2.5, 4, 3 };
#define NQ 6
static const double W[4] = { 0.25, 0.2, 0.5, 0.05 };   /* simplicity, coverage, density, legibility */

static double simplicity(int qi, int j, double lmin, double lmax, double step) {
    double eps = 1e-10;
    double r = fmod(lmin, step);
    int v = ((fabs(r) < eps * step || step - fabs(r) < eps * step) && lmin <= 0 && lmax >= 0) ? 1 : 0;
    return 1.0 - (double)qi / (NQ - 1) - j + v;
}
static double simplicity_max(int qi, int j) { return 1.0 - (double)qi / (NQ - 1) - j + 1; }

static double coverage(double dmin, double dmax, double lmin, double lmax) {
    double r = dmax - dmin;
    return 1.0 - 0.5 * ((dmax - lmax) * (dmax - lmax) + (dmin - lmin) * (dmin - lmin)) / ((0.1 * r) * (0.1 * r));
}
static double coverage_max(double dmin, double dmax, double span) {
    double r = dmax - dmin;
    if (span > r) {
        double half = (span - r) / 2;
        return 1.0 - 0.5 * (2 * half * half) / ((0.1 * r) * (0.1 * r));
    }
    return 1.0;
}
static double density(int k, int m, double dmin, double dmax, double lmin, double lmax) {
    double r = (k - 1) / (lmax - lmin);
    double rt = (m - 1) / (fmax(lmax, dmax) - fmin(dmin, lmin));
    return 2.0 - fmax(r / rt, rt / r);
}
static double density_max(int k, int m) { return k >= m ? 2.0 - (double)(k - 1) / (m - 1) : 1.0; }

int fg_ticks_wilkinson(double dmin, double dmax, int m, int flags,
                       double *lmin_out, double *lmax_out, double *step_out) {
    if (!isfinite(dmin) || !isfinite(dmax) || !(dmax > dmin) || !isfinite(dmax - dmin)) return -1;
    if (m < 2) m = 2;
    int loose = flags & FG_TICKS_LOOSE, whole = flags & FG_TICKS_INTEGER;
    double range = dmax - dmin;
    /* Ranges too small relative to their values lose all precision. */
    if (range < 1e-12 * fmax(fabs(dmin), fabs(dmax))) return -1;
    double best = -2, bmin = 0, bmax = 0, bstep = 0;
    int found = 0;
    for (int j = 1; j <= 12; j++) {
        int stop_j = 0;
        for (int qi = 0; qi < NQ; qi++) {
            double q = Q[qi];
            double sm = simplicity_max(qi, j);
            if (W[0] * sm + W[1] + W[2] + W[3] < best) { stop_j = 1; break; }
            for (int k = 2; k <= 4 * m + 8; k++) {
                double dm = density_max(k, m);
                if (W[0] * sm + W[1] + W[2] * dm + W[3] < best) break;
                double delta = range / (k + 1) / j / q;
                int z0 = (int)ceil(log10(delta));
                for (int z = z0; z < z0 + 12; z++) {
                    double step = j * q * pow(10.0, z);
                    if (!isfinite(step) || step <= 0) break;
                    if (whole && step < 1 - 1e-9) continue;
                    if (whole && fabs(step - round(step)) > 1e-9 * step) continue;
                    double cm = coverage_max(dmin, dmax, step * (k - 1));
                    if (W[0] * sm + W[1] * cm + W[2] * dm + W[3] < best) break;
                    double min_start = floor(dmax / step) * j - (double)(k - 1) * j;
                    double max_start = ceil(dmin / step) * j;
                    if (min_start > max_start) continue;
                    if (max_start - min_start > 1000) continue;   /* degenerate: skip */
                    for (double st = min_start; st <= max_start; st += 1) {
                        double lmin = st * (step / j), lmax = lmin + step * (k - 1);
                        double s = simplicity(qi, j, lmin, lmax, step);
                        double c = coverage(dmin, dmax, lmin, lmax);
                        double g = density(k, m, dmin, dmax, lmin, lmax);
                        double score = W[0] * s + W[1] * c + W[2] * g + W[3];
                        if (score > best && (!loose || (lmin <= dmin && lmax >= dmax))) {
                            best = score; bmin = lmin; bmax = lmax; bstep = step; found = 1;
                        }
                    }
                }
            }
        }
        if (stop_j) break;
    }
    if (!found) return -1;
    *lmin_out = bmin; *lmax_out = bmax; *step_out = bstep;
    return 0;
}

/* Decimals needed to show multiples of step exactly (2.5 → 1, 0.25 → 2). */
static int decimals_for(double step) {
    if (!(step > 0) || !isfinite(step)) return 0;
    for (int d = 0; d < 15; d++) {
        double s = step * pow(10.0, d);
        if (s > 0.999 && fabs(s - round(s)) < 1e-6 * s) return d;
    }
    return 15;
}

/* A typographic minus (U+2212), as in typeset mathematics. */
static void put_minus(char *buf, size_t n) {
    if (buf[0] == '-' && strlen(buf) + 3 < n) {
        memmove(buf + 3, buf + 1, strlen(buf));
        memcpy(buf, "\xe2\x88\x92", 3);
    }
}

void fg_ticks_format(char *buf, size_t n, double v, double step) {
    int d = decimals_for(step);
    if (fabs(v) < step * 1e-9) v = 0;   /* -0 and 1e-17 read as 0 */
    snprintf(buf, n, "%.*f", d, v);
    put_minus(buf, n);
}

/* Power labels for log axes: 1, 10, 100, 1000, then 10^4 as markup. */
static void format_power(char *buf, size_t n, int base, int e) {
    double v = pow(base, e);
    if (base == 10 ? (e >= -3 && e <= 3) : (e >= -4 && e <= 13)) {
        int d = e < 0 ? (base == 10 ? -e : -e) : 0;
        if (base == 2 && e < 0) d = -e;   /* 2^-3 = 0.125: three decimals */
        snprintf(buf, n, "%.*f", d, v);
        if (d > 0) {   /* trim trailing zeros: 0.500 → 0.5 */
            size_t l = strlen(buf);
            while (l > 1 && buf[l - 1] == '0') buf[--l] = 0;
            if (l > 0 && buf[l - 1] == '.') buf[--l] = 0;
        }
    } else {
        char e_s[16];
        snprintf(e_s, sizeof e_s, "%d", e);
        put_minus(e_s, sizeof e_s);
        snprintf(buf, n, "%d<sup>%s</sup>", base, e_s);
    }
}

static void ticks_even(fg_ticks *t, double lo, double hi, int m) {
    /* Fallback: evenly spaced, %g labels. Halves avoid overflow at ±DBL_MAX. */
    if (m < 2) m = 2;
    if (m > FG_MAX_TICKS) m = FG_MAX_TICKS;
    t->n = 0;
    for (int i = 0; i < m; i++) {
        double u = (double)i / (m - 1);
        double v = lo / 2 * (1 - u) * 2 + hi / 2 * u * 2;
        if (!isfinite(v)) v = (1 - u) * lo + u * hi;
        t->v[t->n++] = v;
    }
    /* as many significant digits as it takes to tell the labels apart */
    for (int prec = 3; prec <= 17; prec++) {
        int same = 0;
        for (int i = 0; i < t->n; i++) {
            snprintf(t->label[i], sizeof t->label[0], "%.*g", prec, t->v[i]);
            if (i && !strcmp(t->label[i], t->label[i - 1])) same = 1;
        }
        if (!same) break;
    }
    for (int i = 0; i < t->n; i++) put_minus(t->label[i], sizeof t->label[0]);
}

void fg_ticks_make(fg_ticks *t, fg_scale_kind scale, double lo, double hi, int m, int flags) {
    memset(t, 0, sizeof *t);
    if (m < 2) m = 2;
    if (m > 12) m = 12;
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi)) return;
    if (scale == FG_SCALE_LOG2 || scale == FG_SCALE_LOG10) {
        int base = scale == FG_SCALE_LOG2 ? 2 : 10;
        /* lo/hi are exponents here. Less than one power: nice linear values
         * on the log axis. */
        int e0 = (int)ceil(lo - 1e-9), e1 = (int)floor(hi + 1e-9);
        if (e1 - e0 + 1 >= 2) {
            int span = e1 - e0, every = 1;
            while (span / every + 1 > m && every < 1 << 20) every *= 2;   /* every 1, 2, 4... powers */
            for (; every >= 1; every /= 2) {   /* multiples of every that leave two inside */
                t->n = 0;
                for (int e = e0; e <= e1 && t->n < FG_MAX_TICKS; e++) {
                    if (((e % every) + every) % every) continue;
                    t->v[t->n] = e;
                    format_power(t->label[t->n], sizeof t->label[0], base, e);
                    t->n++;
                }
                if (t->n >= 2) break;
            }
            if (every < 1) every = 1;
            if (base == 10 && every == 1 && span <= 6) {   /* minor ticks 2..9 */
                for (int e = e0 - 1; e <= e1; e++)
                    for (int k = 2; k <= 9 && t->nminor < FG_MAX_TICKS * 2; k++) {
                        double v = e + log10(k);
                        if (v > lo && v < hi) t->minor[t->nminor++] = v;
                    }
            }
            if (t->n >= 2) return;
            t->n = 0;
        }
        double vlo = fg_scale_inv_t(scale, lo), vhi = fg_scale_inv_t(scale, hi), a, b, step;
        if (base == 10) {
            /* Under two decades: 1-2-5 style mantissas, spaced as the log
             * axis spaces them, richer sets only when too few fit. */
            static const int sets[][10] = { { 1, 2, 5, 0 }, { 1, 2, 3, 5, 0 }, { 1, 2, 3, 4, 5, 6, 8, 0 } };
            int best = -1;
            for (int si = 0; si < 4; si++) {
                int set = si < 3 ? si : best;   /* the fourth pass redoes the best */
                if (set < 0) break;
                t->n = 0;
                for (int e = (int)floor(lo) - 1; e <= (int)ceil(hi) && t->n < FG_MAX_TICKS; e++)
                    for (int k = 0; sets[set][k] && t->n < FG_MAX_TICKS; k++) {
                        double v = sets[set][k] * pow(10.0, e), tv = log10(v);
                        if (tv < lo - 1e-9 || tv > hi + 1e-9) continue;
                        t->v[t->n] = tv;
                        fg_ticks_format(t->label[t->n], sizeof t->label[0], v, pow(10.0, e));
                        t->n++;
                    }
                if (si == 3) return;
                if (t->n >= 3 && t->n <= m + 1) best = si;
                if (t->n >= m - 1 || t->n > m + 1) { si = 2; }   /* enough: redo best next */
            }
            t->n = 0;
        }
        if (fg_ticks_wilkinson(vlo, vhi, m, 0, &a, &b, &step) == 0) {
            for (int i = 0; i < FG_MAX_TICKS && t->n < FG_MAX_TICKS; i++) {
                double v = a + i * step;
                if (v > b + step * 1e-6) break;
                if (v < vlo - step * 1e-6 || v > vhi + step * 1e-6 || v <= 0) continue;
                t->v[t->n] = fg_scale_t(scale, v);
                fg_ticks_format(t->label[t->n], sizeof t->label[0], v, step);
                t->n++;
            }
        }
        if (t->n < 2) {
            t->n = 0;
            t->v[t->n] = lo; snprintf(t->label[t->n++], 48, "%.3g", fg_scale_inv_t(scale, lo));
            t->v[t->n] = hi; snprintf(t->label[t->n++], 48, "%.3g", fg_scale_inv_t(scale, hi));
        }
        return;
    }
    /* Whole steps first when asked; fractional ones if those leave fewer
     * than two ticks in the range (a flat series at 5). */
    for (int pass = 0; pass < 2; pass++) {
        int fl = pass == 0 ? (flags & FG_TICKS_INTEGER) : 0;
        if (pass == 1 && !(flags & FG_TICKS_INTEGER)) break;
        double a, b, step;
        t->n = 0; t->suffix[0] = 0;
        /* Few ticks on a short axis can all fall outside the range (0 and
         * 100 for 7..74): ask for one more until two land inside. */
        int ok = 0, want = m >= 3 ? 3 : 2;
        double a2 = 0, b2 = 0, s2 = 0;   /* the first with two inside, if none has `want` */
        for (int mm = m; mm <= m + 4 && ok < want; mm++) {
            if (fg_ticks_wilkinson(lo, hi, mm, fl, &a, &b, &step) != 0) break;
            int inside = 0;
            for (int i = 0; i < FG_MAX_TICKS; i++) {
                double v = a + i * step;
                if (v > b + step * 1e-6) break;
                inside += v >= lo - step * 1e-6 && v <= hi + step * 1e-6;
            }
            if (inside >= 2 && !ok) { ok = 2; a2 = a; b2 = b; s2 = step; }
            if (inside >= want && mm <= m + 1) ok = want;   /* not much denser than asked */
        }
        if (!ok) continue;
        if (ok < want) { a = a2; b = b2; step = s2; }
        /* Huge or tiny magnitudes: a common power of ten moves to the title. */
        double mag = fmax(fabs(lo), fabs(hi));
        int e = 0;
        if (mag >= 1e5 || (mag < 1e-3 && mag > 0)) {
            /* by the values' magnitude, not the step's: labels of a narrow
             * range around 8.95 stay distinct (8.95001, 8.95002) */
            e = (int)floor(log10(mag));
            char es[16];
            snprintf(es, sizeof es, "%d", e);
            put_minus(es, sizeof es);
            snprintf(t->suffix, sizeof t->suffix, " (\xc3\x97" "10<sup>%s</sup>)", es);
        }
        double scale_e = pow(10.0, -e);
        for (int i = 0; i < FG_MAX_TICKS; i++) {
            double v = a + i * step;
            if (v > b + step * 1e-6) break;
            if (v < lo - step * 1e-6 || v > hi + step * 1e-6) continue;
            t->v[t->n++] = v;
        }
        /* Decimals: enough for the step, and for the first tick, which sits
         * on a multiple of step/j and may need one more (0.05, 0.15...). */
        int d = decimals_for(step * scale_e);
        for (int k = 0; k < 6 && d < 17; k++, d++) {
            double p10 = pow(10.0, d), worst = 0;
            for (int i = 0; i < t->n; i++) {
                double u = t->v[i] * scale_e;
                worst = fmax(worst, fabs(round(u * p10) / p10 - u));
            }
            if (worst < 1e-3 * step * scale_e) break;
        }
        for (int i = 0; i < t->n; i++) {
            double u = t->v[i] * scale_e;
            if (fabs(u) < step * scale_e * 1e-9) u = 0;
            snprintf(t->label[i], sizeof t->label[0], "%.*f", d, u);
            put_minus(t->label[i], sizeof t->label[0]);
        }
        if (t->n >= 2) return;
    }
    t->suffix[0] = 0;
    ticks_even(t, lo, hi, m);
}
