/* Test helpers that look inside a compiled graph (src/graph/graph.h), for
 * the suites that check what the planner did, not only the results. */
#ifndef OCLNN_TESTUTIL_GRAPH_H
#define OCLNN_TESTUTIL_GRAPH_H

#include "graph/graph.h"

/* Launches of the grad_accumulate node writing acc (-1: none found): 0
 * when the planner had the gradient's producer add into acc itself. */
static inline int tu_accumulate_launches(const oclnn_graph *g, const oclnn_tensor *acc)
{
    for (int i = 0; i < g->count; i++) {
        const oclnn_tensor *t = g->tensors[i];
        if (t->op && t->op->accumulator && t->storage == acc) return t->nlaunch;
    }
    return -1;
}

#endif
