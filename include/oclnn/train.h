/* oclnn training: reverse-mode autodiff over a graph.
 *
 * oclnn_graph_backward(g, loss) appends, before compile, the nodes that
 * compute d loss / d p for every parameter p the scalar loss depends on.
 * Each parameter gets a persistent gradient tensor that every run ADDS to
 * (so micro-batches accumulate); clear it with oclnn_graph_zero_grad(). */
#ifndef OCLNN_TRAIN_H
#define OCLNN_TRAIN_H

#include "oclnn/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

oclnn_status oclnn_graph_backward(oclnn_graph *g, oclnn_tensor *loss);
/* The gradient accumulator of a parameter (NULL before backward). */
oclnn_tensor *oclnn_tensor_grad(const oclnn_tensor *param);
oclnn_status oclnn_graph_zero_grad(oclnn_graph *g);
/* Gradient of the loss w.r.t. any tensor t (not only params): call before
 * oclnn_graph_backward; t's gradient is kept readable as "<name>.grad". */
oclnn_status oclnn_graph_retain_grad(oclnn_graph *g, oclnn_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
