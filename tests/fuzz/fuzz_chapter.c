/* libFuzzer target for the chapter parser (lua/notebook/nb_chapter.c): the
 * percent-format cell splitter, cell headers with options, and the `local`
 * hoisting that must keep every line where it was. */
#include "fuzz_util.h"

#include "en_error.h"
#include "nb_chapter.h"

static int newlines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *src = fuzz_str(data, size);
    size_t n = strlen(src);  /* a chapter is text: the parser sees up to a NUL */
    int lines = newlines(src) + 1;
    nb_chapter ch;
    en_error_clear();
    if (nb_chapter_parse(&ch, src, n) == 0) {
        for (int i = 0; i < ch.ncells; i++) {
            const nb_cell *c = &ch.cells[i];
            if (c->line < 1 || c->line > lines || !c->text || !c->title) abort();
            if (c->last >= c->first && (c->first < 1 || c->last > lines)) abort();
            for (int k = 0; k < c->nopts; k++)
                if (!c->opts[k].key || !c->opts[k].value || nb_cell_opt(c, c->opts[k].key) == NULL) abort();
            /* code keeps its line numbers: first-1 newlines, then the body */
            if (c->kind == NB_CELL_CODE && c->code && c->last >= c->first &&
                newlines(c->code) < c->first - 1) abort();
        }
        nb_chapter_free(&ch);
    } else if (!en_error_msg()[0]) {
        abort();  /* a rejection says why */
    }
    char *h = nb_lua_hoist_locals(src, n);
    if (!h || newlines(h) != newlines(src)) abort();
    free(h);
    free(src);
    return 0;
}
