/* libFuzzer target for the CIFAR-100 reader (engine/en_cifar.c): record
 * files (either layout, by the first byte) and label-name files. */
#include "fuzz_util.h"

#include "en_cifar.h"
#include "en_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int mode = data[0] % 3;
    const char *path = fuzz_file("cifar", ".bin", data + 1, size - 1);
    en_error_clear();
    if (mode < 2) {
        en_cifar c;
        if (en_cifar_read(path, mode, &c) == 0) {
            int64_t n = c.fine.shape[0];
            if (n * EN_CIFAR_RECORD != (int64_t)(size - 1) || c.coarse.shape[0] != n) abort();
            const int64_t *f = c.fine.data, *k = c.coarse.data;
            for (int64_t i = 0; i < n; i++)
                if (f[i] < 0 || f[i] >= EN_CIFAR_FINE || k[i] < 0 || k[i] >= EN_CIFAR_COARSE) abort();
            en_cifar_free(&c);
        } else if (!strstr(en_error_msg(), path)) {
            abort();
        }
    } else {
        char **names = NULL;
        int n = 0;
        if (en_cifar_read_names(path, 0, &names, &n) == 0) {
            for (int i = 0; i < n; i++) if (!names[i] || !names[i][0]) abort();
            en_cifar_free_names(names, n);
        } else if (!strstr(en_error_msg(), path)) {
            abort();
        }
    }
    return 0;
}
