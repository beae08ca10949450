/* en_pets — the Oxford-IIIT Pet data set (Parkhi et al. 2012) as it lies on
 * disk after extracting images.tar.gz and annotations.tar.gz into DIR
 * (torchvision's layout, root/oxford-iiit-pet/):
 *   DIR/images/NAME.jpg               the picture (JPEG; a few of the real
 *                                     files are PNGs under that name, which
 *                                     the decoder sniffs and reads)
 *   DIR/annotations/trimaps/NAME.png  its trimap, one 8-bit gray or palette
 *                                     sample per pixel: 1 pet, 2 background,
 *                                     3 boundary / not classified
 *   DIR/annotations/trainval.txt      3,680 lines "NAME CLASS SPECIES BREED"
 *   DIR/annotations/test.txt          3,669 lines of the same
 *                                     (CLASS 1..37, SPECIES 1 cat / 2 dog)
 *
 * Splits (fixed, no seed): test = test.txt as published; val = every tenth
 * line of trainval.txt (lines 10, 20, ...: 368 pictures, spread over the
 * breeds because the file is sorted by breed); train = the other trainval
 * lines (3,312). trainval = train + val in file order.
 *
 * en_pets_open reads both lists and checks every line: the fields, the
 * name (no path separators), that its picture and its trimap exist, and
 * that no name is in both lists. Loading a picture checks the decode
 * (truncated or corrupt files), that the trimap has the picture's size and
 * only the values 1, 2, 3. Every error names the file and the problem.
 * Masks come out as 1 = pet, 0 = background, and the boundary as 1
 * (EN_PETS_BOUNDARY_FG) or EN_PETS_IGNORE (EN_PETS_BOUNDARY_IGNORE).
 */
#ifndef EN_PETS_H
#define EN_PETS_H

#include <stdint.h>

#define EN_PETS_CLASSES 37
#define EN_PETS_IGNORE  255

typedef enum { EN_PETS_TRAIN, EN_PETS_VAL, EN_PETS_TEST, EN_PETS_TRAINVAL, EN_PETS_SPLIT_COUNT } en_pets_split;
typedef enum { EN_PETS_BOUNDARY_FG, EN_PETS_BOUNDARY_IGNORE } en_pets_boundary;

typedef struct en_pets en_pets;

/* NULL + en_error() when the folder is not a valid Pet set. */
en_pets *en_pets_open(const char *dir);
void en_pets_free(en_pets *p);

/* "train", "val", "test", "trainval" -> the split, or -1. */
int en_pets_split_parse(const char *name);
const char *en_pets_split_name(en_pets_split s);

int en_pets_count(const en_pets *p, en_pets_split s);
/* Picture i (0-based) of split s: its name ("Abyssinian_100"), breed class
 * (0..36) and species (0 cat, 1 dog). i must be in range (asserted). */
const char *en_pets_name(const en_pets *p, en_pets_split s, int i);
int en_pets_class(const en_pets *p, en_pets_split s, int i);
int en_pets_species(const en_pets *p, en_pets_split s, int i);

/* Picture i of split s resized to size x size: rgb (size,size,3) uint8 by
 * Pillow's BICUBIC resize (en_resize_bicubic; the aspect ratio is not kept,
 * as Resize((size, size)) does), mask (size,size) by Pillow's NEAREST
 * resize, either may be NULL. 0, or -1 + en_error(). */
int en_pets_load(const en_pets *p, en_pets_split s, int i, int size, en_pets_boundary boundary, uint8_t *rgb,
                 uint8_t *mask);

/* Pictures start..start+n-1 (0-based) of split s into rgb (n,size,size,3)
 * and mask (n,size,size), decoded in parallel (OpenMP); on failure the
 * error of the first failing picture. */
int en_pets_load_batch(const en_pets *p, en_pets_split s, int start, int n, int size, en_pets_boundary boundary,
                       uint8_t *rgb, uint8_t *mask);

#endif
