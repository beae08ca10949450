/* nb — the notebook's entry points for the clipbook command (tabled in
 * lua/cli/cli_main.c; each as cli_cmd.h says) and the Lua side it runs.
 * The notebook sits above the bindings (lua/bind/) and below the command:
 * the chapter parser (nb_chapter.h), the memo store (nb_memo.h), the
 * "clipbook.runtime" module (nb_runtime.c) and lua/notebook/runner.lua
 * with notebook.lua, the globals a chapter sees. */
#ifndef NB_H
#define NB_H

#include <lua.h>

int nb_cmd_run(int argc, char **argv);     /* lua/notebook/nb_cmd_run.c */
int nb_cmd_cache(int argc, char **argv);   /* lua/notebook/nb_cmd_cache.c */
int nb_cmd_results(int argc, char **argv); /* lua/notebook/nb_cmd_results.c */
int nb_cmd_watch(int argc, char **argv);   /* lua/notebook/nb_cmd_watch.c */

/* Run entry(argv-table) of lua/notebook/runner.lua in a fresh Lua state. */
int nb_lua_main(const char *entry, int argc, char **argv);

/* "clipbook.runtime": chapter parsing, JSON, canonical params, value
 * (de)serialisation, the memo store, clocks; for runner.lua and
 * notebook.lua only (nb_runtime.c). */
int luaopen_clipbook_runtime(lua_State *L);

#endif
