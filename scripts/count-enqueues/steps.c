/* N SimpleCNN training steps (zero_grad, run, optimizer step), as `oclnn bench`
 * times them, for counting enqueues per step: steps N [sgd|adam]. */
#include <oclnn/oclnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
    int steps = atoi(argv[1]), batch = 64;
    const char *kind = argc > 2 ? argv[2] : "sgd";
    oclnn_context *ctx = NULL;
    if (oclnn_context_create(NULL, &ctx)) return 1;
    oclnn_graph *g = oclnn_graph_create(ctx);
    oclnn_tensor *x = oclnn_input(g, "images", OCLNN_DTYPE_F32, 4, (const int64_t[]){batch, 1, 28, 28});
    oclnn_tensor *logits = oclnn_simple_cnn(g, x);
    oclnn_tensor *labels = oclnn_input(g, "labels", OCLNN_DTYPE_I32, 1, (const int64_t[]){batch});
    oclnn_tensor *loss = oclnn_cross_entropy_loss(g, logits, labels, OCLNN_REDUCTION_MEAN, 0.0f);
    if (oclnn_graph_backward(g, loss) || oclnn_graph_compile(g, NULL)) return 2;
    oclnn_tensor_fill(labels, 3.0f);
    oclnn_graph_init_params(g, 1);
    oclnn_tensor_fill_uniform(x, 5, 0, 0, 1);
    oclnn_optimizer *opt = !strcmp(kind, "adam") ? oclnn_optimizer_adam(g, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0)
                                                 : oclnn_optimizer_sgd(g, 0.01f, 0.9f, 0, 0, 0);
    for (int i = 0; i < steps; i++) {
        oclnn_graph_zero_grad(g);
        oclnn_graph_run(g);
        oclnn_optimizer_step(opt);
    }
    oclnn_context_finish(ctx);
    oclnn_optimizer_release(opt);
    oclnn_graph_release(g);
    oclnn_context_release(ctx);
    return 0;
}
