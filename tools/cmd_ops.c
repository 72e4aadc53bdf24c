/* oclnn ops: the op registry as a table, so a user can see what a graph may
 * hold, which ops differentiate, and which read strided views directly. */
#include "cli.h"

static void print_inputs(unsigned strided, char *buf, size_t size)
{
    if (!strided) {
        snprintf(buf, size, "contiguous");
        return;
    }
    size_t len = (size_t)snprintf(buf, size, "strided:");
    for (int i = 0; i < 32 && len < size; i++)
        if (strided & (1u << i)) len += (size_t)snprintf(buf + len, size - len, " %d", i);
}

int cmd_ops(int argc, char **argv)
{
    int json = 0;
    const cli_option options[] = {
        {"json", CLI_FLAG, &json, NULL, "one JSON object per line instead of the table", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "ops", NULL,
        "Lists every op a graph can hold (src/ops/registry.c), including the\n"
        "backward-only ops autodiff adds: its family (src/ops/<family>.c), whether\n"
        "gradients flow through it, whether it may run in place, and which inputs\n"
        "its kernel reads through their strides (others get a contiguous copy of a\n"
        "strided view first).",
        options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    int n = oclnn_op_count();
    if (!json) printf("%-30s %-12s %-9s %-8s %s\n", "op", "family", "backward", "inplace", "inputs");
    for (int i = 0; i < n; i++) {
        oclnn_op_info op;
        if (oclnn_op_get(i, &op)) return cli_fail("cannot read the op registry");
        char inputs[160];
        print_inputs(op.strided_inputs, inputs, sizeof inputs);
        if (json) {
            printf("{\"name\":");
            cli_json_string(stdout, op.name);
            printf(",\"family\":");
            cli_json_string(stdout, op.family);
            printf(",\"backward\":%s,\"inplace\":%s,\"strided_inputs\":%u}\n", op.has_backward ? "true" : "false",
                   op.inplace ? "true" : "false", op.strided_inputs);
        } else {
            printf("%-30s %-12s %-9s %-8s %s\n", op.name, op.family, op.has_backward ? "yes" : "no",
                   op.inplace ? "yes" : "no", inputs);
        }
    }
    if (!json) printf("%d ops\n", n);
    return fflush(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
