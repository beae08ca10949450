/* The commands of the chapter runner and the memo store (see rp_cmd.h). */
#ifndef RP_CMDS_RUNNER_H
#define RP_CMDS_RUNNER_H

int lx_cmd_run(int argc, char **argv);     /* lua/lx_cmd_run.c */
int rp_cmd_cache(int argc, char **argv);   /* report/rp_cmd_cache.c */
int rp_cmd_results(int argc, char **argv); /* report/rp_cmd_results.c */
int rp_cmd_watch(int argc, char **argv);   /* report/rp_cmd_watch.c */

/* Run entry(argv-table) of lua/runner.lua in a fresh Lua state. */
int lx_lua_main(const char *entry, int argc, char **argv);

#endif
