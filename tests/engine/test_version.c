#include <criterion/criterion.h>
#include <string.h>
#include "en_version.h"

Test(version, is_semver_like) {
    const char *v = en_version();
    cr_assert(strlen(v) >= 5, "version '%s' too short", v);
    cr_assert(strchr(v, '.') != NULL, "version '%s' has no dot", v);
}
