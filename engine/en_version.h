/* en_version — the engine's version, part of every memo key.
 * Bump CB_ENGINE_VERSION when a change alters any computed number, so that
 * cached artifacts computed by the old engine are recomputed. */
#ifndef EN_VERSION_H
#define EN_VERSION_H

#define CB_ENGINE_VERSION "0.3.0"

const char *en_version(void);

#endif
