/* The op registry: every op definition of every family, in one table that
 * tools list (`oclnn ops`) and the graph checks nodes against. Adding an op
 * family = one line here (and its list at the end of its file). */
#include "graph/graph.h"
#include "oclnn/ops.h"

#include <stddef.h>

extern const oclnn_op_def *const oclnn_elementwise_ops[];
extern const oclnn_op_def *const oclnn_reduce_ops[];
extern const oclnn_op_def *const oclnn_softmax_ops[];
extern const oclnn_op_def *const oclnn_shape_ops[];
extern const oclnn_op_def *const oclnn_gemm_ops[];
extern const oclnn_op_def *const oclnn_conv_ops[];
extern const oclnn_op_def *const oclnn_conv_bwd_ops[];
extern const oclnn_op_def *const oclnn_conv_winograd_ops[];
extern const oclnn_op_def *const oclnn_conv_direct_ops[];
extern const oclnn_op_def *const oclnn_pool_ops[];
extern const oclnn_op_def *const oclnn_norm_ops[];
extern const oclnn_op_def *const oclnn_loss_ops[];
extern const oclnn_op_def *const oclnn_dropout_ops[];
extern const oclnn_op_def *const oclnn_cast_ops[];
extern const oclnn_op_def *const oclnn_embedding_ops[];
extern const oclnn_op_def *const oclnn_rnn_ops[];
extern const oclnn_op_def *const oclnn_similarity_ops[];
extern const oclnn_op_def *const oclnn_attention_ops[];
extern const oclnn_op_def *const oclnn_layer_norm_ops[];

typedef struct family {
    const char *name;
    const oclnn_op_def *const *ops;
} family;

static const family families[] = {
    {"elementwise", oclnn_elementwise_ops},
    {"reduce", oclnn_reduce_ops},
    {"softmax", oclnn_softmax_ops},
    {"shape", oclnn_shape_ops},
    {"gemm", oclnn_gemm_ops},
    {"conv", oclnn_conv_ops},
    {"conv", oclnn_conv_bwd_ops},
    {"conv", oclnn_conv_winograd_ops},
    {"conv", oclnn_conv_direct_ops},
    {"pool", oclnn_pool_ops},
    {"norm", oclnn_norm_ops},
    {"loss", oclnn_loss_ops},
    {"dropout", oclnn_dropout_ops},
    {"cast", oclnn_cast_ops},
    {"embedding", oclnn_embedding_ops},
    {"rnn", oclnn_rnn_ops},
    {"similarity", oclnn_similarity_ops},
    {"attention", oclnn_attention_ops},
    {"layer_norm", oclnn_layer_norm_ops},
};
#define FAMILY_COUNT (sizeof families / sizeof families[0])

/* Finds op i across the families; *fam gets its family's name. */
static const oclnn_op_def *lookup(int i, const char **fam)
{
    if (i < 0) return NULL;
    for (size_t f = 0; f < FAMILY_COUNT; f++) {
        for (const oclnn_op_def *const *op = families[f].ops; *op; op++) {
            if (i-- == 0) {
                if (fam) *fam = families[f].name;
                return *op;
            }
        }
    }
    return NULL;
}

int oclnn_op_registry_count(void)
{
    int n = 0;
    for (size_t f = 0; f < FAMILY_COUNT; f++)
        for (const oclnn_op_def *const *op = families[f].ops; *op; op++) n++;
    return n;
}

const oclnn_op_def *oclnn_op_registry_get(int i) { return lookup(i, NULL); }

bool oclnn_op_registered(const oclnn_op_def *op)
{
    for (size_t f = 0; f < FAMILY_COUNT; f++)
        for (const oclnn_op_def *const *o = families[f].ops; *o; o++)
            if (*o == op) return true;
    return false;
}

int oclnn_op_count(void) { return oclnn_op_registry_count(); }

oclnn_status oclnn_op_get(int i, oclnn_op_info *info)
{
    const char *fam = NULL;
    const oclnn_op_def *op = lookup(i, &fam);
    if (!info || !op)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_op_get: no op %d (there are %d)%s", i, oclnn_op_count(),
                          info ? "" : ", and info is NULL");
    info->name = op->name;
    info->family = fam;
    info->has_backward = op->backward != NULL;
    info->inplace = op->inplace;
    info->strided_inputs = op->strided_inputs;
    return OCLNN_OK;
}
