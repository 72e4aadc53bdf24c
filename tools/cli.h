/* The oclnn command-line program: subcommand table and shared helpers.
 *
 * A subcommand is one function `int cmd_<name>(int argc, char **argv)` in
 * tools/cmd_<name>.c plus one line in the table in tools/main.c. It gets
 * argv[0] = its own name and returns the process exit status:
 * CLI_EXIT_OK, CLI_EXIT_FAIL (the work failed: bad file, no device, OpenCL
 * error) or CLI_EXIT_USAGE (the command line itself is wrong). Errors go to
 * stderr as one line that says what to do next (cli_error). */
#ifndef OCLNN_CLI_H
#define OCLNN_CLI_H

#include <stdio.h>

#include "oclnn/oclnn.h"

#if defined(__GNUC__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* Subcommands. The later ones are declared ahead of their files so that
 * adding one touches only its own file and one table line in main.c. */
int cmd_devices(int argc, char **argv); /* tools/cmd_devices.c */
int cmd_bench(int argc, char **argv);   /* bench/bench.c */
int cmd_xor(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_ops(int argc, char **argv);
int cmd_tokenize(int argc, char **argv); /* tools/cmd_tokenize.c */
int cmd_embed(int argc, char **argv);    /* tools/cmd_bert.c */
int cmd_similarity(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_nearest(int argc, char **argv); /* tools/cmd_wordvec.c */
int cmd_analogy(int argc, char **argv);
int cmd_word2vec_eval(int argc, char **argv);
int cmd_similar_images(int argc, char **argv); /* tools/cmd_similar_images.c */
int cmd_word2vec(int argc, char **argv); /* tools/cmd_word2vec.c */

/* ---- Option parsing -------------------------------------------------------
 * Long options only: "--name VALUE", "--name=VALUE" or "--flag"; "-h" and
 * "--help" print the command's help; "--" ends the options. Each option
 * writes into the variable `dest` points to, which keeps its default when
 * the option is absent:
 *   CLI_FLAG    int *          set to 1
 *   CLI_STRING  const char **  points into argv
 *   CLI_INT     long long *    whole number in [min, max] (decimal or 0x)
 *   CLI_FLOAT   double *       finite number in [min, max] */
typedef enum { CLI_FLAG, CLI_STRING, CLI_INT, CLI_FLOAT } cli_option_kind;

typedef struct cli_option {
    const char *name;  /* without the dashes: "device" */
    cli_option_kind kind;
    void *dest;
    const char *value; /* placeholder in the help: "D", "FILE" */
    const char *help;  /* NULL hides the option from --help (test hooks) */
    double min, max;   /* CLI_INT / CLI_FLOAT range; both 0 means no limit */
} cli_option;

typedef struct cli_spec {
    const char *command;     /* "bench" */
    const char *arguments;   /* after "[options]" in the usage line: "FILE...", or NULL */
    const char *description; /* paragraph(s) printed under the usage line */
    const cli_option *options; /* terminated by an entry with name == NULL */
    int min_positional, max_positional;
} cli_spec;

/* Parses argv[1..argc-1]. Positional arguments (in order) go to
 * positional[0..*npositional-1] when positional is given (room for
 * max_positional). Returns -1 when the command should go on; otherwise the
 * exit status to return at once: CLI_EXIT_OK after printing --help, or
 * CLI_EXIT_USAGE after printing the one-line error. */
int cli_parse(const cli_spec *spec, int argc, char **argv, char **positional, int *npositional);
void cli_print_help(const cli_spec *spec, FILE *out);

/* Number parsing with messages that name the option (e.g. "--repeat"):
 * print the one-line usage error and return CLI_EXIT_USAGE on failure. */
int cli_parse_int(const char *command, const char *option, const char *text, long long min, long long max,
                  long long *out);
int cli_parse_float(const char *command, const char *option, const char *text, double min, double max,
                    double *out);
/* "64,128,256" -> values; at most max_count entries, each in [min, max]. */
int cli_parse_int_list(const char *command, const char *option, const char *text, long long min, long long max,
                       long long *values, int max_count, int *count);

/* ---- Messages ---------------------------------------------------------------
 * "oclnn: <message>" on stderr as one line (newlines in library messages,
 * such as build logs, are folded). */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "oclnn <command>: <message> - run 'oclnn <command> --help' for the
 * options"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *command, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Reports oclnn_last_error() for a failed library call: "oclnn: <what>:
 * <message>". Returns CLI_EXIT_FAIL. */
int cli_fail(const char *what);

/* Opens a context on device spec D (NULL: $OCLNN_DEVICE or the default).
 * On failure prints the one-line error (for a spec that matches nothing,
 * with a pointer to 'oclnn devices') and returns the status. */
oclnn_status cli_open_context(const char *device, oclnn_context **ctx);

/* Writes s as a JSON string literal (quotes and escapes included). */
void cli_json_string(FILE *out, const char *s);

/* "1.5 GiB", "64 KiB", "512 B" into buf. */
const char *cli_format_bytes(unsigned long long bytes, char *buf, size_t size);

/* ---- Progress line ----------------------------------------------------------
 * On a terminal one line is rewritten in place with \r; elsewhere (a pipe,
 * a log file) every update is a plain line so the log keeps it. */
typedef struct cli_progress {
    FILE *out;
    int tty;
    int width; /* characters of the line now on screen (tty only) */
} cli_progress;

void cli_progress_init(cli_progress *p, FILE *out);
void cli_progress_update(cli_progress *p, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Erases the transient line (tty) so ordinary output can follow. */
void cli_progress_clear(cli_progress *p);
/* Ends the line: keeps the last update on screen (tty). */
void cli_progress_done(cli_progress *p);

#endif
