/* oclnn xor: the backprop classic on the selected device. */
#include "cli.h"

#include <string.h>

static void print_model(const char *title, const oclnn_xor_model *m)
{
    printf("== %s\n   loss:", title);
    for (int i = 0; i < m->curve_points; i += m->curve_points > 16 ? m->curve_points / 16 : 1)
        printf(" %.4f", m->loss_curve[i]);
    printf(" ... %.5f\n", m->curve_points ? m->loss_curve[m->curve_points - 1] : 0.0f);
    static const int inputs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    for (int i = 0; i < 4; i++)
        printf("   xor(%d, %d) = %d   output %.4f  -> %s\n", inputs[i][0], inputs[i][1], inputs[i][0] ^ inputs[i][1],
               m->outputs[i], (m->outputs[i] > 0.5f) == (inputs[i][0] ^ inputs[i][1]) ? "right" : "WRONG");
    for (int k = 0; k < m->nweights; k++) {
        printf("   %-12s", m->weight_names[k]);
        for (int j = 0; j < m->weight_sizes[k]; j++) printf(" %+.3f", m->weights[k][j]);
        printf("\n");
    }
}

int cmd_xor(int argc, char **argv)
{
    const char *device = NULL, *activation = "tanh";
    long long hidden = 4, steps = 2000, seed = 1;
    double lr = 0.5;
    const cli_option options[] = {
        {"device", CLI_STRING, &device, "D", "OpenCL device (gpu, cpu, P:D or part of a name)", 0, 0},
        {"hidden", CLI_INT, &hidden, "H", "hidden units of the MLP (default 4)", 1, 16},
        {"steps", CLI_INT, &steps, "N", "full-batch SGD steps (default 2000)", 1, 1000000},
        {"lr", CLI_FLOAT, &lr, "X", "learning rate, SGD with momentum 0.9 (default 0.5)", 1e-9, 100},
        {"activation", CLI_STRING, &activation, "A", "hidden activation: tanh or sigmoid (default tanh)", 0, 0},
        {"seed", CLI_INT, &seed, "S", "initialisation seed (default 1)", 0, 0},
        {0},
    };
    const cli_spec spec = {
        "xor", NULL,
        "Trains two networks on the four XOR points by backprop: a single sigmoid\n"
        "layer (no hidden layer), which cannot represent XOR - its weights drift to\n"
        "~0 and its outputs to 0.5 - and a 2-H-1 MLP, which learns it. Prints the\n"
        "loss curves, the outputs for the four inputs and the learned weights, and\n"
        "ends with 'result: single_layer_correct=K/4 mlp_correct=M/4'.",
        options, 0, 0};
    int rc = cli_parse(&spec, argc, argv, NULL, NULL);
    if (rc >= 0) return rc;
    oclnn_activation_fn act;
    if (!strcmp(activation, "tanh")) act = oclnn_tanh;
    else if (!strcmp(activation, "sigmoid")) act = oclnn_sigmoid;
    else return cli_usage_error("xor", "unknown activation '%s' (use tanh or sigmoid)", activation);

    oclnn_context *ctx;
    if (cli_open_context(device, &ctx)) return CLI_EXIT_FAIL;
    printf("device: %s\n", oclnn_context_device(ctx)->name);
    oclnn_xor_result r;
    oclnn_status s = oclnn_xor_train(ctx, (int)hidden, (int)steps, (float)lr, (uint64_t)seed, act, &r);
    if (s) {
        oclnn_context_release(ctx);
        return cli_fail("xor training failed");
    }
    print_model("single layer 2-1 (sigmoid output)", &r.single_layer);
    char title[64];
    snprintf(title, sizeof title, "MLP 2-%lld-1 (%s hidden, sigmoid output)", hidden, activation);
    print_model(title, &r.mlp);
    printf("result: single_layer_correct=%d/4 mlp_correct=%d/4\n", r.single_layer.correct, r.mlp.correct);
    oclnn_context_release(ctx);
    return CLI_EXIT_OK;
}
