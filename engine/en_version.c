#include "en_version.h"

const char *en_version(void) { return CB_ENGINE_VERSION; }
