/* The commands of the chapter runner and the memo store (see cli_cmd.h). */
#ifndef NB_H
#define NB_H

int nb_cmd_run(int argc, char **argv);     /* lua/notebook/nb_cmd_run.c */
int nb_cmd_cache(int argc, char **argv);   /* lua/notebook/nb_cmd_cache.c */
int nb_cmd_results(int argc, char **argv); /* lua/notebook/nb_cmd_results.c */
int nb_cmd_watch(int argc, char **argv);   /* lua/notebook/nb_cmd_watch.c */

/* Run entry(argv-table) of lua/notebook/runner.lua in a fresh Lua state. */
int nb_lua_main(const char *entry, int argc, char **argv);

#endif
