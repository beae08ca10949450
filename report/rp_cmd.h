/* rp_cmd — the subcommands of `clipbook`. Each lives in its own file
 * (report/rp_cmd_<name>.c or beside the module it drives), takes argv
 * after the command name (argv[0] is the command name) and returns the
 * process exit status: 0 ok, 1 failure, 2 usage error. Errors are one clear
 * line on stderr: "clipbook <cmd>: <what is wrong>". */
#ifndef RP_CMD_H
#define RP_CMD_H

typedef int (*rp_cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    rp_cmd_fn fn;
    const char *summary; /* one line for `clipbook help` */
} rp_cmd;

/* Defined in report/rp_main.c; one line per command, kept sorted. */
extern const rp_cmd rp_cmds[];

#endif
