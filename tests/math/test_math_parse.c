/* The TeX parser: every construct to its tree, errors with their columns,
 * and the MathML writer's elements. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_math.h"

static char *dump_of(const char *tex) {
    char err[256];
    rp_math *m = rp_math_parse(tex, 1, err, sizeof err);
    cr_assert(m, "parse failed for '%s': %s", tex, err);
    char *d = rp_math_dump(m);
    rp_math_free(m);
    return d;
}

static const struct { const char *tex, *tree; } trees[] = {
    {"x", "{x}"},
    {"x+y=2", "{x bin:+ y rel:= #2}"},
    {"a-b", "{a bin:− b}"},
    {"0.316", "{#0.316}"},
    {"x^2", "{(sup x #2)}"},
    {"x^23", "{(sup x #2) #3}"},
    {"x_i", "{(sub x i)}"},
    {"x_i^2", "{(subsup x i #2)}"},
    {"x^{2}_{i}", "{(subsup x i #2)}"},
    {"x'", "{x ′}"},
    {"f''(x)^2", "{f ″ open:( x (sup close:) #2)}"},
    {"x'^2", "{x (sup ′ #2)}"},
    {"x^\\prime", "{x ′}"},
    {"{}^2", "{(sup {} #2)}"},
    {"\\alpha\\beta\\Gamma", "{α β rm:Γ}"},
    {"\\frac{a}{b}", "{(frac a b)}"},
    {"\\frac12", "{(frac #1 #2)}"},
    {"\\frac{\\frac{1}{x}}{y+1}", "{(frac (frac #1 x) {y bin:+ #1})}"},
    {"\\sqrt{x}", "{(sqrt x)}"},
    {"\\sqrt[3]{x}", "{(sqrt [#3] x)}"},
    {"\\hat{y}", "{(acc:302 y)}"},
    {"\\hat y_i", "{(sub (acc:302 y) i)}"},
    {"\\tilde x \\bar x \\vec x \\dot x", "{(acc:303 x) (acc:304 x) (acc:20D7 x) (acc:307 x)}"},
    {"\\overline{x}", "{(overline x)}"},
    {"\\left( x \\right)", "{(fence ( {x} ))}"},
    {"\\left. x \\right|", "{(fence . {x} |)}"},
    {"\\left\\| W \\right\\|_2^2", "{(subsup (fence ‖ {W} ‖) #2 #2)}"},
    {"\\left\\{ \\left[ x \\right] \\right\\}", "{(fence { {(fence [ {x} ])} })}"},
    {"\\|W\\|", "{‖ W ‖}"},
    {"\\sum_{i=1}^{N} x_i", "{(subsup op:∑ {i rel:= #1} N) (sub x i)}"},
    {"\\sum\\limits_i \\int\\nolimits_0", "{(sub op:∑ i) (sub op:∫ #0)}"},
    {"\\exp(t)", "{op:rm:exp open:( t close:)}"},
    {"\\log x", "{op:rm:log x}"},
    {"\\mathrm{softmax}(z)", "{rm:softmax open:( z close:)}"},
    {"\\operatorname{softmax}(z)", "{op:rm:softmax open:( z close:)}"},
    {"\\operatorname*{argmax}_c", "{(sub op:rm:argmax c)}"},
    {"\\max_{W,b}", "{(sub op:rm:max {W punct:, b})}"},
    {"\\text{a photo of a } c", "{\"a photo of a \" c}"},
    {"\\text{\\{x\\}}", "{\"{x}\"}"},
    {"\\mathbf{W} \\mathcal{L} \\mathbb{R}^d", "{bf:W cal:L (sup bb:R d)}"},
    {"\\mathbf{0.5}", "{#bf:0.5}"},
    {"a\\,b\\;c\\quad d\\!e~f", "{a ~3 b ~5 c ~18 d ~-3 e ~6 f}"},
    {"\\bigl( x \\bigr)", "{open:big:( x close:big:)}"},
    {"\\displaystyle x", "{\\style0 x}"},
    {"a \\cdot b \\times c \\le d \\ne f \\approx g \\in h \\to i",
     "{a bin:⋅ b bin:× c rel:≤ d rel:≠ f rel:≈ g rel:∈ h rel:→ i}"},
    {"\\infty \\partial \\nabla \\top \\ell", "{∞ ∂ ∇ ⊤ ℓ}"},
    {"\\langle a, b \\rangle", "{open:⟨ a punct:, b close:⟩}"},
    {"\\mathop{\\mathrm{diag}}\\limits_i", "{(sub op:rm:diag i)}"},
    {"T_e^\\top", "{(subsup T e ⊤)}"},
    {"α + β", "{α bin:+ β}"},
    {"\\begin{cases} 1 & x > 0 \\\\ 0 & \\text{else} \\end{cases}",
     "{(fence { (cases [{#1} & {x rel:> #0}] [{#0} & {\"else\"}]) .)}"},
    {"\\begin{aligned} a &= b \\\\ &= c \\end{aligned}", "{(aligned [{a} & {{} rel:= b}] [{} & {{} rel:= c}])}"},
    {"\\begin{pmatrix} a & b \\\\ c & d \\\\ \\end{pmatrix}", "{(fence ( (matrix [{a} & {b}] [{c} & {d}]) ))}"},
    {"\\begin{bmatrix} 1 \\end{bmatrix}", "{(fence [ (matrix [{#1}]) ])}"},
    {"a \\overset{\\text{def}}{=} b", "{a (sup rel:{rel:=} \"def\") b}"},
    {"\\underset{i}{\\max}", "{(sub op:{op:rm:max} i)}"},
    {"p\\left(y \\middle| x\\right)", "{p (fence ( {y middle:| x} ))}"},
    {"\\mathbb{1}", "{#bb:1}"},
    {"\\sum_{\\substack{i \\in S \\\\ j \\ne i}} x", "{(sub op:∑ (substack [{i rel:∈ S}] [{j rel:≠ i}])) x}"},
    {"\\underbrace{a+b}_{n} \\overbrace{x}^2", "{(sub (acc:23DF {a bin:+ b}) n) (sup (acc:23DE x) #2)}"},
    {"T^\\intercal f\\colon X", "{(sup T ⊺) f punct:: X}"},
};

Test(math_parse, every_construct) {
    int bad = 0;
    for (size_t i = 0; i < sizeof trees / sizeof trees[0]; i++) {
        char *d = dump_of(trees[i].tex);
        if (strcmp(d, trees[i].tree)) {
            cr_log_error("'%s'\n   got  %s\n   want %s", trees[i].tex, d, trees[i].tree);
            bad++;
        }
        free(d);
    }
    cr_assert_eq(bad, 0, "%d of %zu trees differ", bad, sizeof trees / sizeof trees[0]);
}

static const struct { const char *tex, *msg; } errors[] = {
    {"x^{2", "column 5: expected '}' to close the '{' at column 3"},
    {"a + \\foo b", "column 5: unknown command '\\foo'"},
    {"\\frac{a}", "column 9: expected an argument for \\frac"},
    {"a}", "column 2: unbalanced '}'"},
    {"\\left( x", "column 9: expected '\\right' to match the '\\left' at column 1"},
    {"{\\left( x}", "column 10: expected '\\right' to match the '\\left' at column 2"},
    {"x^2^3", "column 4: double superscript"},
    {"x_1_2", "column 4: double subscript"},
    {"a \\right)", "column 3: unbalanced '\\right'"},
    {"\\sqrt[2 x", "column 10: expected ']' to close the '[' of \\sqrt at column 6"},
    {"\\text{abc", "column 10: expected '}' to close the '{' of \\text at column 6"},
    {"x_", "column 3: expected an argument for '_'"},
    {"\\left x \\right)", "column 7: expected a delimiter after \\left"},
    {"a \\limits", "column 3: '\\limits' must follow a big operator"},
    {"x^\\frac12", "column 3: expected '{' around the argument of '^'"},
    {"a & b", "column 3: '&' outside an environment"},
    {"αβ \\oops", "column 4: unknown command '\\oops'"},
    {"x\\", "column 2: expected a command name"},
    {"\\begin{foo} x \\end{foo}", "column 8: unknown environment 'foo'"},
    {"\\begin{cases} x & y", "column 20: expected '\\end' to close the '\\begin' at column 1"},
    {"\\begin{cases} x \\end{pmatrix}", "column 17: expected \\end{cases} to close the \\begin{cases} at column 1"},
    {"a \\\\ b", "column 3: '\\\\' outside an environment"},
    {"a \\end{cases}", "column 3: unbalanced '\\end'"},
    {"a \\middle| b", "column 3: '\\middle' between a '\\left' and its '\\right'"},
    {"\\substack{a \\\\ b", "column 17: expected '}' to close the '{' at column 10"},
    {"\\substack{a \\end{cases}}", "column 13: expected '}' to close the '{' at column 10 before '\\end'"},
};

Test(math_parse, errors_with_positions) {
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        char err[256] = "untouched";
        rp_math *m = rp_math_parse(errors[i].tex, 0, err, sizeof err);
        cr_expect_null(m, "'%s' parsed but should fail", errors[i].tex);
        rp_math_free(m);
        cr_expect(strstr(err, errors[i].msg) == err, "'%s'\n   got  %s\n   want %s...", errors[i].tex, err,
                  errors[i].msg);
    }
}

Test(math_parse, deep_nesting_is_an_error_not_a_crash) {
    char tex[2000];
    size_t n = 0;
    for (int i = 0; i < 300; i++) tex[n++] = '{';
    tex[n++] = 'x';
    for (int i = 0; i < 300; i++) tex[n++] = '}';
    tex[n] = 0;
    char err[256];
    rp_math *m = rp_math_parse(tex, 0, err, sizeof err);
    cr_assert_null(m);
    cr_assert(strstr(err, "nesting"), "%s", err);
}

static char *mathml_of(const char *tex, int display) {
    char err[256];
    rp_math *m = rp_math_parse(tex, display, err, sizeof err);
    cr_assert(m, "%s", err);
    char *s = rp_math_to_mathml(m);
    rp_math_free(m);
    return s;
}

Test(math_mathml, elements) {
    static const struct { const char *tex; int display; const char *want[4]; } cases[] = {
        {"x_i^2", 0, {"<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>", "display=\"inline\""}},
        {"\\frac{a}{b}", 1, {"<mfrac><mi>a</mi><mi>b</mi></mfrac>", "display=\"block\""}},
        {"\\sum_{i=1}^{N} i", 1, {"<munderover><mo lspace=\"0\" rspace=\"0\">∑</mo><mrow><mi>i</mi><mo lspace=\"0\" rspace=\"0\">=</mo><mn>1</mn></mrow><mi>N</mi>"}},
        {"\\int_0^1", 1, {"<msubsup><mo lspace=\"0\" rspace=\"0\">∫</mo>"}},
        {"\\hat{y}", 0, {"<mover accent=\"true\"><mi>y</mi><mo lspace=\"0\" rspace=\"0\" stretchy=\"false\">ˆ</mo></mover>"}},
        {"\\sqrt{x}", 0, {"<msqrt><mi>x</mi></msqrt>"}},
        {"\\sqrt[3]{x}", 0, {"<mroot><mi>x</mi><mn>3</mn></mroot>"}},
        {"\\mathrm{softmax}(z)", 0, {"<mi>softmax</mi><mo lspace=\"0\" rspace=\"0\" stretchy=\"false\">(</mo>"}},
        {"\\exp x", 0, {"<mi>exp</mi><mo lspace=\"0\" rspace=\"0\">\u2061</mo><mspace width=\"0.1667em\"/><mi>x</mi>"}},
        {"\\max_{W} f", 1, {"<munder><mo lspace=\"0\" rspace=\"0\" movablelimits=\"true\" form=\"prefix\">max</mo><mi>W</mi></munder>"}},
        {"\\text{a < b & c}", 0, {"<mtext>a &lt; b &amp; c</mtext>"}},
        {"a < b", 0, {"<mo lspace=\"0\" rspace=\"0\">&lt;</mo>", "alttext=\"a &lt; b\""}},
        {"\\left( x \\right)", 0, {"<mo lspace=\"0\" rspace=\"0\" fence=\"true\" form=\"prefix\" stretchy=\"true\" symmetric=\"true\">(</mo>",
                                   "form=\"postfix\""}},
        {"\\mathbf{W}\\mathrm{d}", 0, {"<mi>𝐖</mi>", "<mi mathvariant=\"normal\">d</mi>"}},
        {"\\mathcal{L} \\mathbb{R}^{d} \\boldsymbol{\\theta} \\mathbf{0.5}", 0,
         {"<mi>ℒ</mi>", "<msup><mi>ℝ</mi><mi>d</mi></msup>", "<mi>𝜽</mi>", "<mn>𝟎.𝟓</mn>"}},
        {"a\\,b", 0, {"<mspace width=\"0.1667em\"/>"}},
        {"\\alpha", 0, {"<mi>α</mi>"}},
        /* TeX's spacing made explicit: a medium space around a binary +, none after a unary minus,
           none inside scripts, and spaces kept at the ends of \text */
        {"a+b", 0, {"<mi>a</mi><mspace width=\"0.2222em\"/><mo lspace=\"0\" rspace=\"0\">+</mo><mspace"}},
        {"-b", 0, {"<mrow><mo lspace=\"0\" rspace=\"0\">−</mo><mi>b</mi></mrow>"}},
        {"x^{a+b}", 0, {"<mi>a</mi><mo lspace=\"0\" rspace=\"0\">+</mo><mi>b</mi>"}},
        {"\\text{ if }", 0, {"<mtext>\u00A0if\u00A0</mtext>"}},
        {"\\|W\\|", 0, {"<mo lspace=\"0\" rspace=\"0\" stretchy=\"false\">‖</mo>"}},
        {"a \\overset{!}{=} b", 0, {"<mover><mrow><mo lspace=\"0\" rspace=\"0\">=</mo></mrow><mo lspace=\"0\" rspace=\"0\" stretchy=\"false\">!</mo></mover>"}},
        {"\\underbrace{a}_{n}", 1, {"<munder><munder accentunder=\"true\"><mi>a</mi><mo lspace=\"0\" rspace=\"0\" stretchy=\"true\">⏟</mo></munder><mi>n</mi></munder>"}},
        {"\\left(a \\middle| b\\right)", 0, {"<mo lspace=\"0\" rspace=\"0\" fence=\"true\" stretchy=\"true\" symmetric=\"true\""}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = mathml_of(cases[i].tex, cases[i].display);
        const char *head = "<math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=";
        cr_expect(!strncmp(s, head, strlen(head)), "%s", s);
        for (int k = 0; k < 4 && cases[i].want[k]; k++)
            cr_expect(strstr(s, cases[i].want[k]), "'%s'\n   got  %s\n   want ...%s...", cases[i].tex, s,
                      cases[i].want[k]);
        free(s);
    }
}

Test(math_parse, invalid_utf8_and_control_characters) {
    static const char *bad[] = {"x + \xff", "a\x01", "\\text{\xc3}", "\xed\xa0\x80"};
    static const char *col[] = {"column 5:", "column 2:", "column 7:", "column 1:"};
    for (int i = 0; i < 4; i++) {
        char err[256];
        rp_math *m = rp_math_parse(bad[i], 0, err, sizeof err);
        cr_expect_null(m);
        rp_math_free(m);
        cr_expect(strstr(err, col[i]) == err && strstr(err, "UTF-8"), "case %d: %s", i, err);
    }
}

/* Random token soup: every input either parses, and then lays out, draws
 * and writes well-nested MathML, or fails with a column; never crashes
 * (this test earns its keep under ASan/UBSan). */
Test(math_parse, random_inputs_never_crash) {
    static const char *tok[] = {"x", "2", "+", "=", "{", "}", "^", "_", "'", "\\frac", "\\sqrt", "[", "]", "(",
                                ")", "\\left(", "\\right)", "\\left.", "\\right\\|", "\\text{a b}", "\\text{",
                                "\\hat", "\\sum", "\\limits", "\\mathrm", "\\operatorname*", "\\foo", "\\", "&",
                                "α", " ", "\\,", "\\big(", "\\displaystyle", "\\overline", ",", "\\max", "\\int",
                                "\\begin{cases}", "\\end{cases}", "\\begin{pmatrix}", "\\end{pmatrix}", "\\\\"};
    const int ntok = sizeof tok / sizeof tok[0];
    unsigned long long st = 12345;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 64, 64);
    cairo_t *cr = cairo_create(s);
    int ok = 0, total = 600;
    for (int it = 0; it < total; it++) {
        char tex[512] = "";
        int len = 1 + it % 6;
        for (int k = 0; k < len; k++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            strcat(tex, tok[(st >> 33) % (unsigned)ntok]);
        }
        char err[256] = "";
        rp_math *m = rp_math_parse(tex, it & 1, err, sizeof err);
        if (!m) {
            cr_assert(!strncmp(err, "column ", 7), "'%s': message without a column: %s", tex, err);
            continue;
        }
        ok++;
        double w, a, d;
        rp_math_layout(m, cr, "TeX Gyre Pagella", 10, &w, &a, &d);
        cr_assert(w >= 0 && a > -100 && d > -100 && w < 1e4, "'%s': extents %g %g %g", tex, w, a, d);
        rp_math_draw(m, cr, 0, 20);
        char *ml = rp_math_to_mathml(m);
        /* crude well-nesting: as many start tags as end tags */
        int open = 0, close = 0;
        for (const char *q = ml; *q; q++)
            if (*q == '<') q[1] == '/' ? close++ : open++;
        int selfclosed = 0;
        for (const char *q = ml; (q = strstr(q, "/>")); q++) selfclosed++;
        cr_assert_eq(open - selfclosed, close, "'%s': unbalanced MathML %s", tex, ml);
        free(ml);
        rp_math_free(m);
    }
    cr_log_info("%d of %d random inputs parsed", ok, total);
    cr_assert_gt(ok, total / 20);
    cr_assert_lt(ok, total);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

Test(math_parse, inline_break_points) {
    static const struct { const char *tex; int display; int n; const char *first, *last; } cases[] = {
        {"a + b = c", 0, 3, "{a bin:+ ~4}", "{c}"},
        {"x := y", 0, 2, "{x rel:: rel:= ~5}", "{y}"},
        {"{a + b} = c", 0, 2, "{{a bin:+ b} rel:= ~5}", "{c}"},
        {"-a = b", 0, 2, "{bin:− a rel:= ~5}", "{b}"},
        {"a + b = c", 1, 1, "{a bin:+ b rel:= c}", "{a bin:+ b rel:= c}"},
        {"a =", 0, 1, "{a rel:=}", "{a rel:=}"},
        {"", 0, 1, "{}", "{}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        rp_math *m = rp_math_parse(cases[i].tex, cases[i].display, err, sizeof err);
        cr_assert(m, "%s", err);
        int n = 0;
        rp_math **parts = rp_math_split(m, &n);
        cr_expect_eq(n, cases[i].n, "'%s': %d parts, want %d", cases[i].tex, n, cases[i].n);
        char *first = rp_math_dump(parts[0]), *last = rp_math_dump(parts[n - 1]);
        cr_expect_str_eq(first, cases[i].first, "'%s': first part %s", cases[i].tex, first);
        cr_expect_str_eq(last, cases[i].last, "'%s': last part %s", cases[i].tex, last);
        free(first);
        free(last);
        /* the parts together are as wide as the whole */
        double w, a, d, sum = 0;
        rp_math_layout(m, NULL, "TeX Gyre Pagella", 10, &w, &a, &d);
        for (int k = 0; k < n; k++) {
            double pw;
            rp_math_layout(parts[k], NULL, "TeX Gyre Pagella", 10, &pw, &a, &d);
            sum += pw;
            rp_math_free(parts[k]);
        }
        free(parts);
        cr_expect(fabs(sum - w) < 1e-6, "'%s': parts %.4f pt wide, whole %.4f", cases[i].tex, sum, w);
        rp_math_free(m);
    }
}
