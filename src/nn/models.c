/* Model builders: MLP and SimpleCNN. */
#include "graph/graph.h"
#include "oclnn/oclnn.h"

#include <stdio.h>

static oclnn_tensor *fc(oclnn_graph *g, oclnn_tensor *x, int64_t in, int64_t out, const char *name)
{
    char wname[128], bname[128];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    oclnn_tensor *w = oclnn_param(g, wname, 2, (const int64_t[]){out, in});
    oclnn_tensor *b = oclnn_param(g, bname, 1, (const int64_t[]){out});
    return oclnn_linear(g, x, w, b);
}

oclnn_tensor *oclnn_mlp(oclnn_graph *g, oclnn_tensor *x, int nsizes, const int64_t *sizes,
                        oclnn_activation_fn activation, const char *prefix)
{
    if (nsizes < 2 || !sizes) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "mlp: needs at least two layer sizes");
    for (int i = 1; i < nsizes; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s%d", prefix ? prefix : "fc", i);
        x = fc(g, x, sizes[i - 1], sizes[i], name);
        if (i + 1 < nsizes && activation) x = activation(g, x);
    }
    return x;
}

static oclnn_tensor *conv_relu_pool(oclnn_graph *g, oclnn_tensor *x, int64_t cin, int64_t cout, const char *name)
{
    char wname[64], bname[64];
    snprintf(wname, sizeof wname, "%s.weight", name);
    snprintf(bname, sizeof bname, "%s.bias", name);
    oclnn_tensor *w = oclnn_param(g, wname, 4, (const int64_t[]){cout, cin, 5, 5});
    oclnn_tensor *b = oclnn_param(g, bname, 1, (const int64_t[]){cout});
    /* conv + ReLU + MaxPool2d(2) as one node: on CPUs the pool runs in the
     * conv's GEMM epilogue and the unpooled output is never stored */
    oclnn_conv2d_params cp = {.pad_h = 2, .pad_w = 2, .activation = OCLNN_ACT_RELU, .max_pool = 2};
    return oclnn_conv2d(g, x, w, b, &cp);
}

oclnn_tensor *oclnn_simple_cnn_embedding(oclnn_graph *g, oclnn_tensor *images, oclnn_tensor **logits)
{
    oclnn_tensor *x = conv_relu_pool(g, images, 1, 32, "conv1");
    x = conv_relu_pool(g, x, 32, 64, "conv2");
    x = oclnn_dropout(g, x, 0.25f);
    x = oclnn_relu(g, fc(g, oclnn_flatten(g, x, 1), 3136, OCLNN_SIMPLE_CNN_EMBEDDING, "fc1"));
    oclnn_tensor *y = fc(g, x, OCLNN_SIMPLE_CNN_EMBEDDING, 10, "fc2");
    if (logits) *logits = y;
    return x;
}

oclnn_tensor *oclnn_simple_cnn(oclnn_graph *g, oclnn_tensor *images)
{
    oclnn_tensor *logits = NULL;
    oclnn_simple_cnn_embedding(g, images, &logits);
    return logits;
}
