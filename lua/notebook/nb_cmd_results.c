/* `clipbook results FRAGMENT.json... --out results.json`: merge the
 * "results" of every document fragment into one flat map label -> value
 * (sorted by label), the file scripts compare between runs. A label quoted
 * by two chapters with different values is reported; the later chapter
 * (in argument order) wins. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_file.h"
#include "nb.h"
#include "nb_memo.h"

int nb_cmd_results(int argc, char **argv) {
    const char *out = NULL;
    cJSON *all = cJSON_CreateObject();
    int rc = 0, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc) { out = argv[++i]; continue; }
        if (argv[i][0] == '-') {
            fprintf(stderr, "clipbook results: unknown option %s\nusage: clipbook results FRAGMENT.json... --out FILE\n", argv[i]);
            cJSON_Delete(all);
            return 2;
        }
        char *t = en_file_read(argv[i], NULL);
        cJSON *doc = t ? cJSON_Parse(t) : NULL;
        if (t && !doc) en_error("not JSON");
        free(t);
        if (!doc) {
            /* the reader's message usually names the file already */
            en_error_prefix("%s", argv[i]);
            fprintf(stderr, "clipbook results: %s\n", en_error_msg());
            rc = 1;
            continue;
        }
        nfiles++;
        cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "results"), *e;
        cJSON_ArrayForEach(e, r) {
            cJSON *old = cJSON_GetObjectItemCaseSensitive(all, e->string);
            if (old && !cJSON_Compare(old, e, 1))
                fprintf(stderr, "clipbook results: '%s' differs between chapters; keeping %s's\n", e->string, argv[i]);
            cJSON_DeleteItemFromObjectCaseSensitive(all, e->string);
            cJSON_AddItemToObject(all, e->string, cJSON_Duplicate(e, 1));
        }
        cJSON_Delete(doc);
    }
    /* sorted labels: stable diffs between runs */
    int n = cJSON_GetArraySize(all);
    cJSON *sorted = cJSON_CreateObject();
    for (int k = 0; k < n; k++) {
        cJSON *best = NULL, *e;
        cJSON_ArrayForEach(e, all)
            if (!best || strcmp(e->string, best->string) < 0) best = e;
        cJSON_AddItemToObject(sorted, best->string, cJSON_DetachItemViaPointer(all, best));
    }
    cJSON_Delete(all);
    char *s = cJSON_Print(sorted);
    cJSON_Delete(sorted);
    if (!out) { printf("%s\n", s); free(s); return rc; }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; en_mkdirs(dir); }
    size_t len = strlen(s);
    s[len] = '\n';  /* cJSON_Print's NUL becomes the final newline */
    if (en_file_write_atomic(out, s, len + 1) < 0) {
        fprintf(stderr, "clipbook results: %s\n", en_error_msg());
        rc = 1;
    }
    free(s);
    if (!rc) fprintf(stderr, "clipbook results: %d fragment%s -> %s\n", nfiles, nfiles == 1 ? "" : "s", out);
    return rc;
}
