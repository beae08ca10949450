/* rp_model — the document model the renderer works on: the chapters' blocks
 * loaded from build/doc/NN-name.json (rp_doc.c), their Markdown parsed by cmark-gfm
 * with clipbook's extensions turned into placeholders (rp_md.c), labels and
 * numbers assigned across chapters (rp_xref.c). Both writers (rp_pdf.c,
 * rp_html.c) read it; neither re-parses anything.
 *
 * Placeholders: math, cross-references and citations would be mangled by
 * cmark (underscores, brackets), so rp_md replaces them before parsing with
 * "\x01" KIND INDEX "\x02" (KIND one of RP_SP_*), INDEX into doc->sp. The
 * control bytes pass through cmark untouched and appear in text nodes; a
 * display-math placeholder is a paragraph of its own.
 */
#ifndef RP_MODEL_H
#define RP_MODEL_H

#include <cmark-gfm.h>
#include <stddef.h>

#include "fg.h"
#include "rp_math.h"

#define RP_SP_MATH  'M'   /* inline $...$ */
#define RP_SP_DMATH 'D'   /* display $$...$$ {#eq-x} */
#define RP_SP_XREF  'R'   /* @fig-x ... */
#define RP_SP_CITE  'C'   /* [@a; @b] */

typedef struct {
    char kind;
    char *text;      /* tex, label, or keys separated by ';' */
    char *label;     /* display math: its {#eq-x} label or NULL */
    rp_math *math;   /* parsed math, NULL if it failed */
    char *err;       /* math parse error */
} rp_special;

/* A block's kind; the fragment's "type" names it (rp_block_kind_name), and
 * each has one loader in rp_doc.c's block_kinds[] (guarded by the count),
 * one case in rp_layout.c (PDF) and one in rp_html.c (HTML). Display math
 * is a "$$...$$ {#eq-x}" paragraph of a markdown block, not a kind. */
typedef enum {
    RP_B_MD, RP_B_CODE, RP_B_OUTPUT, RP_B_FIGURE, RP_B_TABLE,
    RP_B_CALLOUT, RP_B_ERROR,
    RP_B_COUNT
} rp_block_kind;

/* The fragment's "type" for kind k ("markdown", "code", ...), NULL when k
 * is out of range; rp_block_kind_parse is its inverse (-1 when unknown). */
const char *rp_block_kind_name(rp_block_kind k);
int         rp_block_kind_parse(const char *name);

typedef struct {
    rp_block_kind kind;
    char *text;        /* code, output text */
    char *lang, *title, *label, *callout, *message, *traceback;
    int cell, line, numbers;  /* numbers: show line numbers on a listing */
    double width;      /* figure width, fraction of the text width */
    fg_spec *spec;     /* figure spec */
    char *spec_err;
    cmark_node *md;    /* markdown body (RP_B_MD, RP_B_CALLOUT) */
    cmark_node *caption;
    int ncols, nrows;  /* table: nrows body rows; cells[(r+1)*ncols+c], row 0 = header */
    char *align;       /* 'l' 'c' 'r' per column */
    cmark_node **cells;
    int number;        /* figure / table number, 0 = none */
} rp_block;

typedef struct {
    char *stem, *source;
    char *path;        /* the fragment file */
    char *dir;         /* the fragment's folder: image paths are relative to it */
    char *prov;        /* "profile mini · seed 0 · ..." from provenance, or NULL */
    rp_block *blocks;
    int nblocks;
} rp_chapter;

typedef struct {
    char *key, *authors, *title, *venue, *url;
    int year, number;  /* number: order of first citation, 0 = not cited */
} rp_ref;

typedef struct {
    char *label;
    char kind;        /* 's' section, 'f' figure, 't' table, 'e' equation */
    char *number;     /* "4.1", "3", ... */
    char *title;      /* section title (plain text) */
    int level;        /* section level */
    cmark_node *node; /* the heading (not owned), for a typeset title */
    int chapter;
} rp_label;

typedef struct rp_doc {
    char *title, *subtitle, *date;
    char **authors;
    int nauthors;
    cmark_node *abstract;
    rp_ref *refs;
    int nrefs;
    rp_chapter *chapters;
    int nchapters;
    rp_special *sp;
    int nsp, capsp;
    rp_label *labels;
    int nlabels, caplabels;
    int line_numbers;  /* --line-numbers: number every listing */
    const char *paper; /* "a4" or "letter" */
    int numbered;      /* rp_xref_number ran: heading user data is a label index */
    int nerrors;       /* problems marked in the document (an unreadable fragment,
                          a duplicate label): render writes it, then exits 1 */
} rp_doc;

/* rp_doc.c */
rp_doc *rp_doc_new(void);
/* -1 + en_error, the document as it was; a fragment must be valid UTF-8
 * and valid JSON in the clipbook-doc/1 format (rp_doc.h). */
int     rp_doc_load_chapter(rp_doc *d, const char *path);
/* A chapter standing for a fragment that could not be loaded: its name as
 * a heading and an error block with msg; counts in d->nerrors. */
void    rp_doc_add_error_chapter(rp_doc *d, const char *path, const char *msg);
int     rp_doc_load_meta(rp_doc *d, const char *path);
void    rp_doc_free(rp_doc *d);

/* rp_md.c */
cmark_node *rp_md_parse(rp_doc *d, const char *text);
cmark_llist *rp_md_extensions(void);
int     rp_md_options(void);
/* Finds the next placeholder in s: returns its start or NULL; *kind, *index,
 * *end (one past the closing byte) filled. */
const char *rp_md_placeholder(const char *s, char *kind, int *index, const char **end);
char   *rp_md_plain(const rp_doc *d, cmark_node *n);   /* a node's text (math as TeX), malloc'd */

/* rp_xref.c: numbers sections, figures, tables, equations, citations.
 * Returns 0; a duplicate label becomes an error block in the document and
 * counts in d->nerrors. */
int     rp_xref_number(rp_doc *d);
const rp_label *rp_xref_find(const rp_doc *d, const char *label);
/* "Figure 3", "Section 4.1", "Equation (5)"; malloc'd; NULL if unknown. */
char   *rp_xref_text(const rp_doc *d, const char *label);
const rp_ref *rp_xref_ref(const rp_doc *d, const char *key);
/* Label index stored on heading nodes (cmark user data). -1 if none. */
int     rp_xref_heading_label(cmark_node *heading);

/* rp_highlight.c: Lua tokens for listings. */
typedef enum { RP_HL_PLAIN, RP_HL_KEYWORD, RP_HL_STRING, RP_HL_COMMENT,
               RP_HL_NUMBER, RP_HL_BUILTIN, RP_HL_COUNT } rp_hl_kind;
typedef struct { size_t start, len; rp_hl_kind kind; } rp_hl_span;
/* Spans covering src[0..len) in order; returns the count, *out malloc'd. */
int     rp_highlight_lua(const char *src, size_t len, rp_hl_span **out);
extern const char *const rp_hl_names[RP_HL_COUNT];

/* Writers. */
int     rp_pdf_write(rp_doc *d, const char *path);
int     rp_html_write(rp_doc *d, const char *path);  /* mutates the ASTs: run last */

#endif
