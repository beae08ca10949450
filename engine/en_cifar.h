/* en_cifar — the CIFAR-100 binary release (cifar-100-binary.tar.gz):
 *   train.bin / test.bin: records of 3074 bytes: coarse label (0..19), fine
 *   label (0..99), then 1024 R, 1024 G, 1024 B bytes of a 32x32 image, rows
 *   top to bottom; fine_label_names.txt / coarse_label_names.txt: one name
 *   per line, in label order (torchvision's spelling, underscores included).
 * The file size must be a non-zero multiple of 3074 and every label in range;
 * errors name the file and, for labels, the record.
 */
#ifndef EN_CIFAR_H
#define EN_CIFAR_H

#include "en_ndbuf.h"

#define EN_CIFAR_RECORD 3074
#define EN_CIFAR_FINE   100
#define EN_CIFAR_COARSE 20

typedef struct {
    en_ndbuf images;  /* U8 (N, 32, 32, 3) HWC, or (N, 3, 32, 32) when read with planes = 1 */
    en_ndbuf fine;    /* I64 (N), 0..99 */
    en_ndbuf coarse;  /* I64 (N), 0..19 */
} en_cifar;

int  en_cifar_read(const char *path, int planes, en_cifar *out);
void en_cifar_free(en_cifar *c);

/* Reads a label-names file; *n gets the count, which must equal `expected`
 * when expected > 0. Blank lines at the end are ignored, blank lines between
 * names are an error. Free with en_cifar_free_names. */
int  en_cifar_read_names(const char *path, int expected, char ***names, int *n);
void en_cifar_free_names(char **names, int n);

#endif
