/* Internal to src/nn/bert*.c: the encoder builder with the weight layout
 * choice (see linear() in bert.c). */
#ifndef OCLNN_BERT_INTERNAL_H
#define OCLNN_BERT_INTERNAL_H

#include "oclnn/bert.h"

/* oclnn_bert_build with wt != 0: linear weights are params of shape
 * [in, out] (transposed), for the inference graphs of oclnn_bert. */
oclnn_status oclnn_bert_build_graph(oclnn_graph *g, const oclnn_bert_config *cfg, oclnn_tensor *ids,
                                    oclnn_tensor *type_ids, oclnn_tensor *pad, oclnn_tensor *pool_weights, int wt,
                                    oclnn_bert_outputs *out);

#endif
