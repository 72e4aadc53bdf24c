/* Shared helpers of the oclnn subcommands: option parsing, one-line errors,
 * opening a context, JSON strings and the progress line. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Messages */

/* Library messages can carry multi-line build logs; the contract is one
 * line per error so scripts can grep it, hence the folding. */
static void vprint_one_line(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
    char msg[8192];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == ' ')) msg[--len] = 0;
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
    fprintf(stderr, "%s%s%s\n", prefix, msg, suffix ? suffix : "");
    fflush(stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprint_one_line("oclnn: ", NULL, fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    char prefix[128], suffix[160];
    snprintf(prefix, sizeof prefix, "oclnn%s%s: ", command ? " " : "", command ? command : "");
    snprintf(suffix, sizeof suffix, " - run 'oclnn%s%s --help' for the options", command ? " " : "",
             command ? command : "");
    va_list ap;
    va_start(ap, fmt);
    vprint_one_line(prefix, suffix, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *what)
{
    const char *msg = oclnn_last_error();
    cli_error("%s: %s", what, msg && *msg ? msg : "failed (no message)");
    return CLI_EXIT_FAIL;
}

oclnn_status cli_open_context(const char *device, oclnn_context **ctx)
{
    *ctx = NULL;
    oclnn_status s = oclnn_context_create(device, ctx);
    if (s == OCLNN_ERR_NO_DEVICE)
        cli_error("%s - run 'oclnn devices' to list them", oclnn_last_error());
    else if (s)
        cli_error("cannot open device '%s': %s - check its driver, or pick another from 'oclnn devices'",
                  device && *device ? device : "(default)", oclnn_last_error());
    return s;
}

/* ---- Numbers */

int cli_parse_int(const char *command, const char *option, const char *text, long long min, long long max,
                  long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 0);
    if (end == text || *end || errno == ERANGE)
        return cli_usage_error(command, "%s needs a whole number, got '%s'", option, text);
    if (v < min || v > max)
        return cli_usage_error(command, "%s must be between %lld and %lld, got %lld", option, min, max, v);
    *out = v;
    return 0;
}

int cli_parse_float(const char *command, const char *option, const char *text, double min, double max,
                    double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno == ERANGE || !isfinite(v))
        return cli_usage_error(command, "%s needs a number, got '%s'", option, text);
    if (v < min || v > max)
        return cli_usage_error(command, "%s must be between %g and %g, got %g", option, min, max, v);
    *out = v;
    return 0;
}

int cli_parse_int_list(const char *command, const char *option, const char *text, long long min, long long max,
                       long long *values, int max_count, int *count)
{
    *count = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return cli_usage_error(command, "%s needs a comma-separated list of whole numbers, got '%s'", option,
                                   text);
        if (*count == max_count)
            return cli_usage_error(command, "%s takes at most %d values, got '%s'", option, max_count, text);
        memcpy(item, p, len);
        item[len] = 0;
        int rc = cli_parse_int(command, option, item, min, max, &values[*count]);
        if (rc) return rc;
        (*count)++;
        if (!comma) return 0;
        p = comma + 1;
    }
}

/* ---- Options */

static const cli_option *find_option(const cli_spec *spec, const char *name, size_t len)
{
    for (const cli_option *o = spec->options; o && o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

static int store_option(const cli_spec *spec, const cli_option *o, const char *value)
{
    char option[80];
    snprintf(option, sizeof option, "--%s", o->name);
    int ranged = o->min != 0 || o->max != 0;
    switch (o->kind) {
    case CLI_FLAG: *(int *)o->dest = 1; return 0;
    case CLI_STRING: *(const char **)o->dest = value; return 0;
    case CLI_INT:
        return cli_parse_int(spec->command, option, value, ranged ? (long long)o->min : LLONG_MIN,
                             ranged ? (long long)o->max : LLONG_MAX, (long long *)o->dest);
    case CLI_FLOAT:
        return cli_parse_float(spec->command, option, value, ranged ? o->min : -HUGE_VAL,
                               ranged ? o->max : HUGE_VAL, (double *)o->dest);
    }
    return CLI_EXIT_USAGE;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, char **positional, int *npositional)
{
    int npos = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && (!strcmp(arg, "--help") || !strcmp(arg, "-h"))) {
            cli_print_help(spec, stdout);
            return CLI_EXIT_OK;
        }
        if (!options_done && !strcmp(arg, "--")) {
            options_done = 1;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1] != 0) {
            if (arg[1] != '-')
                return cli_usage_error(spec->command, "unknown option '%s' (options are long: --name)", arg);
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_option *o = find_option(spec, name, len);
            if (!o) return cli_usage_error(spec->command, "unknown option '%.*s'", (int)len + 2, arg);
            const char *value = NULL;
            if (o->kind == CLI_FLAG) {
                if (eq) return cli_usage_error(spec->command, "option '--%s' takes no value", o->name);
            } else if (eq) {
                value = eq + 1;
            } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                /* A following "--x" is taken as a forgotten value, not as one. */
                value = argv[++i];
            } else {
                return cli_usage_error(spec->command, "option '--%s' needs a value (%s)", o->name,
                                       o->value ? o->value : "VALUE");
            }
            int rc = store_option(spec, o, value);
            if (rc) return rc;
            continue;
        }
        if (npos >= spec->max_positional)
            return cli_usage_error(spec->command, "unexpected argument '%s'", arg);
        if (positional) positional[npos] = argv[i];
        npos++;
    }
    if (npos < spec->min_positional)
        return cli_usage_error(spec->command, "missing argument%s: %s", spec->min_positional > 1 ? "s" : "",
                               spec->arguments ? spec->arguments : "?");
    if (npositional) *npositional = npos;
    return -1;
}

void cli_print_help(const cli_spec *spec, FILE *out)
{
    fprintf(out, "usage: oclnn %s [options]%s%s\n", spec->command, spec->arguments ? " " : "",
            spec->arguments ? spec->arguments : "");
    if (spec->description) fprintf(out, "\n%s\n", spec->description);
    fprintf(out, "\noptions:\n");
    for (const cli_option *o = spec->options; o && o->name; o++) {
        if (!o->help) continue;
        char left[64];
        if (o->kind == CLI_FLAG) snprintf(left, sizeof left, "--%s", o->name);
        else snprintf(left, sizeof left, "--%s %s", o->name, o->value ? o->value : "VALUE");
        fprintf(out, "  %-20s %s\n", left, o->help);
    }
    fprintf(out, "  %-20s %s\n", "--help", "show this help");
}

/* ---- Output helpers */

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*c < 0x20) fprintf(out, "\\u%04x", *c);
            else fputc(*c, out);
        }
    }
    fputc('"', out);
}

const char *cli_format_bytes(unsigned long long bytes, char *buf, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, size, "%llu B", bytes);
    else snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

/* ---- Progress line */

void cli_progress_init(cli_progress *p, FILE *out)
{
    p->out = out;
    p->tty = isatty(fileno(out));
    p->width = 0;
}

void cli_progress_update(cli_progress *p, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (!p->tty) {
        fprintf(p->out, "%s\n", line);
        fflush(p->out);
        return;
    }
    int len = (int)strlen(line);
    /* Pad with spaces so a shorter line fully covers the previous one. */
    fprintf(p->out, "\r%s%*s", line, p->width > len ? p->width - len : 0, "");
    if (p->width > len) fprintf(p->out, "\r%s", line);
    p->width = len;
    fflush(p->out);
}

void cli_progress_clear(cli_progress *p)
{
    if (p->tty && p->width) {
        fprintf(p->out, "\r%*s\r", p->width, "");
        fflush(p->out);
    }
    p->width = 0;
}

void cli_progress_done(cli_progress *p)
{
    if (p->tty && p->width) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->width = 0;
}
