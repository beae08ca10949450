/* nb_chapter — the chapter format: Lua 5.4 in jupytext's "percent" format.
 *
 *   -- %% [markdown]                  opens a prose cell; its lines are
 *   -- Some *Markdown* {{ expr }}      `-- `-prefixed Markdown
 *   -- %% train heads echo=false label=fig-x caption="..."
 *   local w = ...                      opens a code cell: a title, then
 *                                      key=value options (values may be
 *                                      "double quoted")
 *
 * Text before the first marker is a code cell without a title (skipped when
 * blank). Code cell options: echo, eval, output, error, numbers (booleans,
 * default true, true, true, false, false), label, caption; others are kept
 * and reported.
 *
 * Each code cell runs as its own chunk, so that a failing cell can be
 * reported and the chapter's other cells still written; so that a chapter's
 * `local`s stay visible to later cells (as they would when the file runs as
 * one chunk), nb_lua_hoist_locals rewrites statement-level `local`s at a
 * cell's top level into assignments to the chapter's environment. The
 * rewrite keeps every line where it was, so error line numbers match the
 * file. */
#ifndef NB_CHAPTER_H
#define NB_CHAPTER_H

#include <stddef.h>

typedef enum { NB_CELL_CODE, NB_CELL_MARKDOWN } nb_cell_kind;

typedef struct { char *key, *value; } nb_opt;

typedef struct {
    nb_cell_kind kind;
    int line;          /* the marker's line (1 for a preamble cell) */
    int first, last;   /* body lines, 1-based inclusive, blank edges trimmed;
                          last < first when the body is empty */
    char *title;       /* "" when none */
    nb_opt *opts;
    int nopts;
    char *text;        /* markdown: the prose without `-- `; code: the body */
    char *code;        /* code: the body with locals hoisted, preceded by
                          first-1 newlines so line numbers match the file */
} nb_cell;

typedef struct {
    nb_cell *cells;
    int ncells;
} nb_chapter;

/* Parse chapter text. 0, or -1 with en_error set. */
int  nb_chapter_parse(nb_chapter *ch, const char *src, size_t n);
void nb_chapter_free(nb_chapter *ch);
/* The value of option key, or NULL. */
const char *nb_cell_opt(const nb_cell *c, const char *key);

/* Rewrite statement-level `local` declarations at nesting depth 0 into plain
 * assignments (`local x, y = e` -> `x, y = e`; `local x` -> `x = nil`;
 * `local function f` -> `function f`); declarations with <close> are left
 * alone. Returns a malloc'd string with the same lines. */
char *nb_lua_hoist_locals(const char *code, size_t n);


#endif
