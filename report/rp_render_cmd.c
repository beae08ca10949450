/* clipbook render — assembles chapter fragments into report.pdf and
 * report.html:  clipbook render build/doc/NN.json... --out build/report/
 *                 [--meta chapters/meta.json] [--paper a4|letter]
 *                 [--line-numbers] [--no-html] [--no-pdf]
 * Chapters are rendered in the order of their stems (file names sort).
 * Without --meta, chapters/meta.json is used when it exists (so `make
 * report` gets the title block and bibliography without saying so). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "rp_cmd.h"
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

static int mkdirs(const char *dir) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(tmp, 0777);
        *p = '/';
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) return en_error("%s: %s", dir, strerror(errno));
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
    char path[4096];
    if (meta && rp_doc_load_meta(d, meta)) goto fail;
    for (int i = 0; i < nfiles; i++)
        if (rp_doc_load_chapter(d, files[i])) goto fail;
    if (rp_xref_number(d)) goto fail;
    if (mkdirs(out)) goto fail;
    snprintf(path, sizeof path, "%s/report.pdf", out);
    if (pdf && rp_pdf_write(d, path)) goto fail;
    snprintf(path, sizeof path, "%s/report.html", out);
    if (html && rp_html_write(d, path)) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "clipbook render: %s\n", en_error_msg());
done:
    rp_doc_free(d);
    free(files);
    return rc;
}
