/* en_version — the engine's version, part of every memo key.
 * Bump CB_ENGINE_VERSION when a change alters any computed number, so that
 * cached artifacts computed by the old engine are recomputed. */
#ifndef EN_VERSION_H
#define EN_VERSION_H

#define CB_ENGINE_VERSION "0.3.0"

const char *en_version(void);

/* SHA-256 (64 hex digits) of the sources of engine/, kernels/ and lua/ this
 * binary was built from, computed by the Makefile (CODE_HASH): also part of
 * every memo key, so that a change to the code recomputes what it computed
 * even when nobody bumped the version. Defined in a generated file linked
 * into each program, not in the engine library. */
const char *en_code_hash(void);

#endif
