/* A small Vision Transformer on 28x28 images, trained and evaluated
 * through the shared image-classifier jobs (classifier.h). The patches are
 * cut by views (reshape, permute) and one copy, so no im2col op is needed,
 * and the class token is broadcast by adding it to zeros, so its gradient
 * is the broadcast's sum. */
#include "core/error.h"
#include "graph/graph.h"
#include "nn/classifier.h"
#include "oclnn/oclnn.h"

#include <stdio.h>
#include <string.h>

#define PATCH 7
#define GRID 4 /* 28 / PATCH */
#define TOKENS (GRID * GRID)

static oclnn_status resolve(const oclnn_vit_config *in, oclnn_vit_config *c)
{
    *c = in ? *in : (oclnn_vit_config){0};
    if (c->width <= 0) c->width = 64;
    if (c->layers <= 0) c->layers = 4;
    if (c->heads <= 0) c->heads = c->width >= 16 ? c->width / 16 : 1;
    if (c->mlp <= 0) c->mlp = 2 * c->width;
    if (c->width % c->heads || !(c->dropout >= 0) || c->dropout >= 1)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "vit: width %d must be a multiple of heads %d, dropout %g in [0, 1)",
                          c->width, c->heads, (double)c->dropout);
    return OCLNN_OK;
}

oclnn_tensor *oclnn_vit(oclnn_graph *g, oclnn_tensor *images, const oclnn_vit_config *config)
{
    oclnn_vit_config c;
    if (resolve(config, &c)) return oclnn_graph_fail(g, OCLNN_ERR_INVALID_ARG, "%s", oclnn_last_error());
    if (!oclnn_graph_usable(g, "vit", 1, &images)) return NULL;
    char have[128];
    if (images->ndim != 4 || images->dims[1] != 1 || images->dims[2] != 28 || images->dims[3] != 28)
        return oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "vit: images %s must be [N, 1, 28, 28]",
                                oclnn_tensor_shape_str(images, have, sizeof have));
    int64_t n = images->dims[0], w = c.width;
    /* [N, 1, 28, 28] = [N, gy, py, gx, px] -> [N, gy, gx, py, px] -> [N, 16, 49]:
     * patch (gy, gx) row-major, pixels row-major, as unfold/Conv2d(7, stride 7). */
    oclnn_tensor *x = oclnn_reshape(g, images, 5, (const int64_t[]){n, GRID, PATCH, GRID, PATCH});
    x = oclnn_contiguous(g, oclnn_permute(g, x, (const int[]){0, 1, 3, 2, 4}));
    x = oclnn_reshape(g, x, 3, (const int64_t[]){n, TOKENS, PATCH * PATCH});
    oclnn_tensor *pw = oclnn_param(g, "patch_embed.weight", 2, (const int64_t[]){w, PATCH * PATCH});
    oclnn_tensor *pb = oclnn_param(g, "patch_embed.bias", 1, &w);
    oclnn_tensor *tokens = oclnn_linear(g, x, pw, pb);
    oclnn_tensor *cls = oclnn_param(g, "cls_token", 3, (const int64_t[]){1, 1, w});
    oclnn_tensor *pos = oclnn_param(g, "pos_embed", 3, (const int64_t[]){1, TOKENS + 1, w});
    oclnn_tensor *cls_n = oclnn_add(g, oclnn_full_like(g, oclnn_slice(g, tokens, 1, 0, 1), 0.0f), cls);
    x = oclnn_add(g, oclnn_concat(g, 2, (oclnn_tensor *const[]){cls_n, tokens}, 1), pos);
    oclnn_encoder_options eo = {.d_model = w, .nhead = c.heads, .dim_feedforward = c.mlp, .dropout = c.dropout,
                                .activation = OCLNN_ENCODER_GELU, .batch_first = 1, .norm_first = 1};
    x = oclnn_transformer_encoder(g, "encoder", &eo, c.layers, x, NULL, NULL);
    oclnn_tensor *nw = oclnn_param(g, "norm.weight", 1, &w), *nb = oclnn_param(g, "norm.bias", 1, &w);
    /* pre-LN leaves the residual stream unnormalised: the final norm is
     * part of the model, as in ViT; only the class token needs it. */
    oclnn_tensor *first = oclnn_reshape(g, oclnn_contiguous(g, oclnn_slice(g, x, 1, 0, 1)), 2, (const int64_t[]){n, w});
    oclnn_tensor *y = oclnn_layer_norm(g, first, nw, nb, 1e-5f);
    oclnn_tensor *hw = oclnn_param(g, "head.weight", 2, (const int64_t[]){10, w});
    oclnn_tensor *hb = oclnn_param(g, "head.bias", 1, (const int64_t[]){10});
    return oclnn_linear(g, y, hw, hb);
}

static oclnn_tensor *build(oclnn_graph *g, oclnn_tensor *images, const void *config)
{
    return oclnn_vit(g, images, config);
}

oclnn_status oclnn_vit_train(oclnn_context *ctx, const oclnn_vit_config *config, const oclnn_train_options *options,
                             oclnn_train_result *result)
{
    oclnn_vit_config c;
    oclnn_status s = resolve(config, &c);
    if (s) return s;
    nn_image_model m = {"vit", build, &c};
    return nn_classifier_train(ctx, &m, options, result);
}

oclnn_status oclnn_vit_evaluate(oclnn_context *ctx, int heads, const char *weights_path, const char *data_dir,
                                int64_t test_limit, oclnn_train_result *result)
{
    if (!ctx || !weights_path || !result) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "vit_evaluate: NULL argument");
    oclnn_safetensors *st;
    oclnn_status s = oclnn_safetensors_open(weights_path, &st);
    if (s) return s;
    oclnn_vit_config c = {.heads = heads};
    const oclnn_st_tensor *pw = oclnn_safetensors_find(st, "patch_embed.weight");
    const oclnn_st_tensor *l1 = oclnn_safetensors_find(st, "encoder.layers.0.linear1.weight");
    if (!pw || pw->ndim != 2 || !l1 || l1->ndim != 2) {
        oclnn_safetensors_free(st);
        return oclnn_fail(OCLNN_ERR_NOT_FOUND,
                          "%s: no 2-D 'patch_embed.weight' and 'encoder.layers.0.linear1.weight', so not a vit "
                          "state_dict",
                          weights_path);
    }
    c.width = (int)pw->shape[0];
    c.mlp = (int)l1->shape[0];
    for (c.layers = 1; c.layers < 1000; c.layers++) {
        char name[64];
        snprintf(name, sizeof name, "encoder.layers.%d.linear1.weight", c.layers);
        if (!oclnn_safetensors_find(st, name)) break;
    }
    oclnn_safetensors_free(st);
    if ((s = resolve(&c, &c))) return s;
    nn_image_model m = {"vit", build, &c};
    return nn_classifier_evaluate(ctx, &m, weights_path, data_dir, test_limit, result);
}
