/* Reverse-mode autodiff: a reverse sweep over the forward tensors, asking
 * each op to add gradient nodes for its sources. Contributions to a tensor
 * used several times are summed; parameters (and tensors whose gradient was
 * retained) get a persistent accumulator written by a grad_accumulate node. */
#include "graph/graph.h"
#include "graph/sparse_grad.h"
#include "oclnn/ops.h"
#include "oclnn/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

oclnn_tensor *oclnn_grad_accumulate_node(oclnn_graph *g, oclnn_tensor *acc, oclnn_tensor *x);
oclnn_tensor *oclnn_slice_backward(oclnn_graph *g, oclnn_tensor *grad, const oclnn_tensor *view);

void oclnn_grad_add(oclnn_graph *g, oclnn_tensor *x, oclnn_tensor *c)
{
    if (!x || !c || !(x->flags & T_NEEDS_GRAD) || g->error) return;
    if (x->sparse_grad) {
        /* Its accumulator holds rows, not a dense tensor: summing a dense
         * contribution into it would need a sweep of the whole table. */
        oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED,
                         "backward: parameter '%s' has a row-sparse gradient (oclnn_param_set_sparse_grad), but op "
                         "'%s' gives it a dense one; only embedding lookups may read it",
                         oclnn_tensor_name(x), c->op ? c->op->name : "view");
        return;
    }
    if (!oclnn_same_shape(x, c)) {
        char xs[128], cs[128];
        oclnn_graph_fail(g, OCLNN_ERR_SHAPE, "backward: gradient %s does not match tensor %s (op '%s')",
                         oclnn_tensor_shape_str(c, cs, sizeof cs), oclnn_tensor_shape_str(x, xs, sizeof xs),
                         x->op ? x->op->name : "leaf");
        return;
    }
    x->grad_tmp = x->grad_tmp ? oclnn_add(g, x->grad_tmp, c) : c;
}

static void view_backward(oclnn_graph *g, oclnn_tensor *view, oclnn_tensor *grad)
{
    oclnn_tensor *src = view->src[0];
    switch (view->iparam[0]) {
    case 0: /* reshape */
        oclnn_grad_add(g, src, oclnn_reshape(g, grad, src->ndim, src->dims));
        break;
    case 1: { /* permute: apply the inverse permutation */
        int inverse[OCLNN_MAX_DIMS];
        for (int i = 0; i < view->ndim; i++) inverse[view->iparam[1 + i]] = i;
        oclnn_grad_add(g, src, oclnn_contiguous(g, oclnn_permute(g, grad, inverse)));
        break;
    }
    case 2: /* slice: scatter into zeros */
        oclnn_grad_add(g, src, oclnn_slice_backward(g, grad, view));
        break;
    }
}

static oclnn_tensor *grad_tensor(oclnn_graph *g, oclnn_tensor *t)
{
    if (t->grad) return t->grad;
    char name[512];
    snprintf(name, sizeof name, "%s.grad", t->name ? t->name : "tensor");
    t->grad = oclnn_state_new(g, oclnn_graph_find(g, name) ? NULL : name, OCLNN_DTYPE_F32, t->ndim, t->dims, 0.0);
    if (t->grad) {
        t->grad->flags = (t->grad->flags & ~T_STATE) | T_GRAD;
        t->flags |= T_NEEDS_GRAD;
    }
    return t->grad;
}

oclnn_status oclnn_graph_retain_grad(oclnn_graph *g, oclnn_tensor *t)
{
    if (!g || !t) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_retain_grad: NULL argument");
    if (g->error) return oclnn_fail(g->error, "%s", g->error_message);
    if (t->graph != g)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_retain_grad: tensor belongs to another graph");
    if (g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_retain_grad: graph already compiled");
    if ((t->flags & T_AUX) && !(t->flags & T_DIFF_OUTPUT))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "retain_grad: this output of '%s' carries no gradient",
                          t->aux_of->op->name);
    if (g->has_backward) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "retain_grad must come before backward");
    if (t->dtype != OCLNN_DTYPE_F32) return oclnn_fail(OCLNN_ERR_SHAPE, "retain_grad: tensor is not f32");
    /* Marking the tensor makes every op that reads it differentiable. */
    t->flags |= T_NEEDS_GRAD;
    for (int i = t->id + 1; i < g->count; i++) {
        oclnn_tensor *n = g->tensors[i];
        for (int s = 0; s < n->nsrc; s++)
            if (n->src[s]->flags & T_NEEDS_GRAD) n->flags |= T_NEEDS_GRAD;
        if ((n->flags & T_DIFF_OUTPUT) && (n->aux_of->flags & T_NEEDS_GRAD)) n->flags |= T_NEEDS_GRAD;
    }
    return grad_tensor(g, t) ? OCLNN_OK : oclnn_fail(g->error, "%s", g->error_message);
}

/* Gradients of all outputs of node t (its own, then each aux output), or
 * false when none has one. A differentiable output that got none gets
 * zeros, so an op's backward() never loses or misreads a missing one. */
static bool output_grads(oclnn_graph *g, oclnn_tensor *t, oclnn_tensor **grads)
{
    bool any = t->grad_tmp != NULL;
    grads[0] = t->grad_tmp;
    for (int a = 0; a < t->naux; a++) {
        grads[1 + a] = (t->aux[a]->flags & T_DIFF_OUTPUT) ? t->aux[a]->grad_tmp : NULL;
        any |= grads[1 + a] != NULL;
    }
    if (!any) return false;
    if (!grads[0]) grads[0] = oclnn_full_like(g, t, 0.0f);
    for (int a = 0; a < t->naux; a++)
        if ((t->aux[a]->flags & T_DIFF_OUTPUT) && !grads[1 + a]) grads[1 + a] = oclnn_full_like(g, t->aux[a], 0.0f);
    return true;
}

oclnn_status oclnn_graph_backward(oclnn_graph *g, oclnn_tensor *loss)
{
    if (!g || !loss) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_backward: NULL argument");
    if (g->error) return oclnn_fail(g->error, "%s", g->error_message);
    if (loss->graph != g)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_backward: the loss belongs to another graph");
    if (g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_backward: graph already compiled");
    if (g->has_backward) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_backward: called twice");
    if (oclnn_tensor_numel(loss) != 1 || loss->dtype != OCLNN_DTYPE_F32) {
        char s[128];
        return oclnn_fail(OCLNN_ERR_SHAPE, "oclnn_graph_backward: loss must be one f32 element, got %s",
                          oclnn_tensor_shape_str(loss, s, sizeof s));
    }
    if (!(loss->flags & T_NEEDS_GRAD))
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_backward: the loss depends on no parameter");
    g->has_backward = true;
    int last = loss->id;
    loss->grad_tmp = oclnn_full_like(g, loss, 1.0f);
    for (int i = last; i >= 0 && !g->error; i--) {
        oclnn_tensor *t = g->tensors[i];
        /* Extra outputs are handled with their node (which comes before
         * them), once every reader of theirs has contributed. */
        if (t->flags & T_AUX) {
            if (t->grad_tmp && t->grad) oclnn_grad_accumulate_node(g, t->grad, t->grad_tmp);
            continue;
        }
        if (t->grad_tmp && (t->grad || (t->flags & T_PARAM)))
            oclnn_grad_accumulate_node(g, grad_tensor(g, t), t->grad_tmp);
        if (t->flags & T_VIEW) {
            if (t->grad_tmp) view_backward(g, t, t->grad_tmp);
            continue;
        }
        if (!t->op) continue;
        bool any = false;
        for (int s = 0; s < t->nsrc; s++) any |= (t->src[s]->flags & T_NEEDS_GRAD) != 0;
        oclnn_tensor *grads[1 + OCLNN_MAX_AUX];
        if (!any || !output_grads(g, t, grads)) continue;
        if (!t->op->backward) {
            oclnn_graph_fail(g, OCLNN_ERR_UNSUPPORTED, "backward: op '%s' has no gradient", t->op->name);
            break;
        }
        t->op->backward(g, t, grads);
    }
    for (int i = 0; i < g->count; i++) g->tensors[i]->grad_tmp = NULL;
    if (g->error) return oclnn_fail(g->error, "%s", g->error_message);
    return OCLNN_OK;
}

oclnn_tensor *oclnn_tensor_grad(const oclnn_tensor *param)
{
    if (param && param->sparse_grad) {
        oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_tensor_grad: parameter '%s' has a row-sparse gradient; read it "
                   "with oclnn_sparse_grad_read or oclnn_sparse_grad_densify", oclnn_tensor_name(param));
        return NULL;
    }
    return param ? param->grad : NULL;
}

oclnn_status oclnn_graph_zero_grad(oclnn_graph *g)
{
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_graph_zero_grad: NULL graph");
    if (g->grad_block) { /* every dense accumulator in one fill (padding included) */
        const float zero = 0.0f;
        cl_int err = clEnqueueFillBuffer(g->ctx->queue, g->grad_block, &zero, sizeof zero, 0, g->grad_block_bytes, 0,
                                         NULL, NULL);
        if (err) return oclnn_cl_check(err, "clEnqueueFillBuffer", "zero_grad");
    }
    for (int i = 0; i < g->count; i++) {
        oclnn_sparse_grad_clear(g->tensors[i]->sparse_grad); /* O(1): forgets the rows, touches no memory */
        if (!(g->tensors[i]->flags & T_GRAD) || g->tensors[i]->in_block) continue;
        oclnn_status s = oclnn_tensor_fill(g->tensors[i], 0.0f);
        if (s) return s;
    }
    return OCLNN_OK;
}
