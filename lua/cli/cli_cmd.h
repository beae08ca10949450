/* cli_cmd — the subcommands of `clipbook`, tabled in cli_cmds[]
 * (lua/cli/cli_main.c). Each is a plain entry point beside the room whose
 * work it does: the CLIP commands in lua/cli/cli_cmd_clip.c, fetch in
 * lua/cli/fetch/, run/cache/results/watch in lua/notebook/ (nb.h), render
 * and math in report/, figure in figures/. Each takes argv after the
 * command name (argv[0] is the command name) and returns the process exit
 * status: 0 ok, 1 failure, 2 usage error. Errors are one clear line on
 * stderr: "clipbook <cmd>: <what is wrong>". */
#ifndef CLI_CMD_H
#define CLI_CMD_H

typedef int (*cli_cmd_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    cli_cmd_fn fn;
    const char *summary; /* one line for `clipbook help` */
} cli_cmd;

/* Defined in lua/cli/cli_main.c; one line per command, kept sorted. */
extern const cli_cmd cli_cmds[];

#endif
