/* clipbook render — assembles chapter fragments into report.pdf and
 * report.html:  clipbook render build/doc/NN.json... --out build/report/
 *                 [--meta chapters/meta.json] [--paper a4|letter]
 *                 [--line-numbers] [--no-html] [--no-pdf]
 * Chapters are rendered in the order of their stems (file names sort).
 * Without --meta, chapters/meta.json is used when it exists (so `make
 * report` gets the title block and bibliography without saying so).
 *
 * A fragment that cannot be loaded (not UTF-8, not JSON, not the format)
 * and a label defined twice are error blocks in the report, which is still
 * written; the exit status is then 1. Outputs are written to a temporary
 * name and renamed when complete; a render that fails outright removes the
 * report.pdf / report.html of an earlier run, so no stale output looks
 * current. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_tmpfile.h"
#include "rp_model.h"

static int usage(void) {
    fprintf(stderr, "usage: clipbook render CHAPTER.json... --out DIR [--meta meta.json] "
                    "[--paper a4|letter] [--line-numbers] [--no-pdf] [--no-html]\n");
    return 2;
}

static int cmp_str(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    const char *bx = strrchr(x, '/'), *by = strrchr(y, '/');
    return strcmp(bx ? bx + 1 : x, by ? by + 1 : y);
}


/* Write with fn to path via a temporary name in the same folder: the
 * PATH.tmp.PID.N every atomic writer uses (en_tmpfile.h), so one left by a
 * killed render is recognisable as an orphan. The writers (cairo's PDF
 * surface, the HTML writer) open the path themselves. */
static int write_atomic(rp_doc *d, const char *path, int (*fn)(rp_doc *, const char *)) {
    char *tmp = NULL;
    int fd = en_tmpfile_open(path, &tmp);
    if (fd < 0) return -1;
    close(fd);
    if (fn(d, tmp)) { unlink(tmp); free(tmp); return -1; }
    if (chmod(tmp, 0644) || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return en_error("%s: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}

int rp_cmd_render(int argc, char **argv) {
    const char *out = NULL, *meta = NULL, *paper = "a4";
    int line_numbers = 0, pdf = 1, html = 1;
    const char **files = calloc(argc, sizeof *files);
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--meta") && i + 1 < argc) meta = argv[++i];
        else if (!strcmp(argv[i], "--paper") && i + 1 < argc) paper = argv[++i];
        else if (!strcmp(argv[i], "--line-numbers")) line_numbers = 1;
        else if (!strcmp(argv[i], "--no-pdf")) pdf = 0;
        else if (!strcmp(argv[i], "--no-html")) html = 0;
        else if (argv[i][0] == '-') { free(files); return usage(); }
        else files[nfiles++] = argv[i];
    }
    if (!out || !nfiles || (strcmp(paper, "a4") && strcmp(paper, "letter"))) { free(files); return usage(); }
    qsort(files, nfiles, sizeof *files, cmp_str);
    if (!meta && access("chapters/meta.json", R_OK) == 0) meta = "chapters/meta.json";
    rp_doc *d = rp_doc_new();
    d->paper = paper;
    d->line_numbers = line_numbers;
    int rc = 1;
    char pdf_path[4096], html_path[4096];
    snprintf(pdf_path, sizeof pdf_path, "%s/report.pdf", out);
    snprintf(html_path, sizeof html_path, "%s/report.html", out);
    if (meta && rp_doc_load_meta(d, meta)) goto fail;
    for (int i = 0; i < nfiles; i++)
        if (rp_doc_load_chapter(d, files[i])) {
            /* that chapter becomes an error; the others still render */
            fprintf(stderr, "clipbook render: %s\n", en_error_msg());
            rp_doc_add_error_chapter(d, files[i], en_error_msg());
        }
    rp_xref_number(d);
    if (en_mkdirs(out)) goto fail;
    if (pdf && write_atomic(d, pdf_path, rp_pdf_write)) goto fail;
    if (html && write_atomic(d, html_path, rp_html_write)) goto fail;
    rc = d->nerrors ? 1 : 0;
    if (d->nerrors)
        fprintf(stderr, "clipbook render: %d problem%s marked in the report (error blocks)\n", d->nerrors,
                d->nerrors == 1 ? "" : "s");
    goto done;
fail:
    fprintf(stderr, "clipbook render: %s\n", en_error_msg());
    /* what an earlier render left must not pass for this one's result */
    if (pdf && unlink(pdf_path) == 0) fprintf(stderr, "clipbook render: removed the stale %s\n", pdf_path);
    if (html && unlink(html_path) == 0) fprintf(stderr, "clipbook render: removed the stale %s\n", html_path);
done:
    rp_doc_free(d);
    free(files);
    return rc;
}
