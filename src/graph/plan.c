/* The planner: execution order, liveness and the arena.
 *
 * Construction order is already topological (a node's sources exist before
 * it), so the order is the creation order. Each intermediate tensor lives
 * from the node that writes it to the last node that reads it (through any
 * view); its arena range is reused after that. An in-place op writes into
 * its first source's range when that source dies at this very node. A
 * gradient that only feeds a parameter's accumulator is computed straight
 * into it (fuse_accumulations), and an activation that is a GEMM's only
 * reader is applied in the GEMM's epilogue (fuse_activations), and a
 * LayerNorm of a residual sum reads both terms (fuse_residual_adds). */
#include "graph/graph.h"

#include <stdlib.h>
#include <string.h>

typedef struct block {
    size_t offset, size;
    const oclnn_tensor *owner;
} block;

typedef struct arena_plan {
    block *live;
    int count, capacity;
    size_t peak;
    size_t align;
} arena_plan;

static size_t align_up(const arena_plan *p, size_t n) { return (n + p->align - 1) / p->align * p->align; }

static int block_cmp(const void *a, const void *b)
{
    const block *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* First fit among the gaps between live blocks (kept sorted by offset). */
static bool arena_alloc(arena_plan *p, const oclnn_tensor *owner, size_t bytes, size_t *offset)
{
    size_t size = align_up(p, bytes ? bytes : 1), at = 0;
    for (int i = 0; i < p->count; i++) {
        if (p->live[i].offset - at >= size) break;
        at = p->live[i].offset + p->live[i].size;
    }
    if (p->count == p->capacity) {
        int cap = p->capacity ? p->capacity * 2 : 32;
        block *grown = realloc(p->live, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        p->live = grown;
        p->capacity = cap;
    }
    p->live[p->count++] = (block){at, size, owner};
    qsort(p->live, (size_t)p->count, sizeof *p->live, block_cmp);
    if (at + size > p->peak) p->peak = at + size;
    *offset = at;
    return true;
}

static void arena_free(arena_plan *p, const oclnn_tensor *owner)
{
    for (int i = 0; i < p->count; i++) {
        if (p->live[i].owner == owner) {
            memmove(&p->live[i], &p->live[i + 1], (size_t)(p->count - i - 1) * sizeof *p->live);
            p->count--;
            return;
        }
    }
}

static void arena_transfer(arena_plan *p, const oclnn_tensor *from, const oclnn_tensor *to)
{
    for (int i = 0; i < p->count; i++)
        if (p->live[i].owner == from) p->live[i].owner = to;
}

static bool is_persistent(const oclnn_tensor *t) { return (t->flags & T_PERSISTENT) != 0; }

static bool can_run_in_place(const oclnn_tensor *node, int index)
{
    if (!node->op->inplace || node->nsrc == 0) return false;
    const oclnn_tensor *src = node->src[0];
    const oclnn_tensor *st = src->storage;
    /* Writing over src[0] is safe only if no other source reads the same
     * memory (add(x, slice(x, ...)) would read elements already written). */
    for (int s = 1; s < node->nsrc; s++)
        if (node->src[s]->storage == st) return false;
    return !is_persistent(st) && st->last_use == index && src->offset == 0 && st->bytes == node->bytes &&
           oclnn_tensor_is_contiguous(src) && src->dtype == node->dtype && !(st->flags & T_AUX) &&
           st->op != NULL && !is_persistent(node);
}

/* Whether any node in (from, to) of tensor ids reads or writes storage st. */
static bool touched_between(const oclnn_graph *g, int from, int to, const oclnn_tensor *st)
{
    for (int i = from + 1; i < to; i++) {
        const oclnn_tensor *t = g->tensors[i];
        if (!t->op) continue;
        if (t->storage == st) return true;
        for (int s = 0; s < t->nsrc; s++)
            if (t->src[s]->storage == st) return true;
    }
    return false;
}

/* Number of node sources that read x's memory, directly or through views
 * (views themselves are not counted: they read nothing). */
static int node_readers(const oclnn_graph *g, const oclnn_tensor *x)
{
    int n = 0;
    for (int i = x->id + 1; i < g->count; i++) {
        const oclnn_tensor *t = g->tensors[i];
        for (int s = 0; t->op && s < t->nsrc; s++) n += t->src[s]->storage == x;
    }
    return n;
}

/* A gradient computed only to be added into a parameter's accumulator is
 * computed into the accumulator instead (its op adds rather than
 * overwrites: node->accumulate), and the accumulator node does nothing.
 * Only when that is invisible: the accumulator node is the value's only
 * reader, the value is an intermediate of its own (no view or output; its
 * node's extra outputs keep their own memory), its producer reads nothing
 * of the accumulator, and no
 * node in between touches the accumulator. Idempotent, for a compile
 * retried after a failure. */
static void fuse_accumulations(oclnn_graph *g)
{
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *acc_node = g->tensors[i];
        if (!acc_node->op || !acc_node->op->accumulator) continue;
        oclnn_tensor *x = acc_node->src[0], *acc = acc_node->storage;
        if (x->accumulate) continue;
        bool ok = x->op && x->op->accumulates && x->op->accumulates(x) && x->storage == x &&
                  !(x->flags & (T_PERSISTENT | T_AUX)) && !x->grad && x->offset == 0 && x->dtype == acc->dtype &&
                  x->bytes == acc->bytes && oclnn_tensor_is_contiguous(x) && node_readers(g, x) == 1 &&
                  !touched_between(g, x->id, acc_node->id, acc);
        for (int s = 0; ok && s < x->nsrc; s++) ok = x->src[s]->storage != acc;
        if (!ok) continue;
        x->storage = acc;
        x->accumulate = true;
    }
}

/* Whether t covers all of its storage contiguously from the start. */
static bool whole(const oclnn_tensor *t, const oclnn_tensor *of)
{
    return t->offset == 0 && oclnn_tensor_is_contiguous(t) && oclnn_tensor_numel(t) == oclnn_tensor_numel(of);
}

/* y = act(x) where x's producer can apply act itself (takes_epilogue):
 * x's producer does (x->epilogue) and y becomes an alias of x that
 * launches nothing. Only when that is invisible: y is x's only reader
 * (which rules out a backward reading x, such as gelu's), reading all of
 * x contiguously, and neither is persistent, a view of something else, an
 * aux output or already fused. Views of y then view x's memory too.
 * Idempotent, like fuse_accumulations. */
static void fuse_activations(oclnn_graph *g)
{
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *y = g->tensors[i];
        if (!y->op || !y->op->epilogue || y->nsrc != 1 || y->storage != y) continue;
        const oclnn_tensor *in = y->src[0];
        oclnn_tensor *x = in->storage;
        bool ok = x->op && x->op->takes_epilogue && !x->epilogue && !x->accumulate && x->storage == x &&
                  x->naux == 0 && !(x->flags & (T_PERSISTENT | T_AUX)) && !(y->flags & (T_PERSISTENT | T_AUX)) &&
                  whole(in, x) && x->dtype == y->dtype && y->bytes == x->bytes && node_readers(g, x) == 1 &&
                  x->op->takes_epilogue(x, y->op->epilogue);
        if (!ok) continue;
        x->epilogue = y->op->epilogue;
        for (int j = i; j < g->count; j++) /* y and the views of it */
            if (g->tensors[j]->storage == y) g->tensors[j]->storage = x;
    }
}

/* y = f(a + b) where y's op can sum its input itself (take_residual, the
 * residual add before a LayerNorm): y reads a and b and the add node is
 * fused_away. Only when the add is y's input alone (its only reader, read
 * whole), of two contiguous same-size sources, and neither persistent nor
 * an aux output. Idempotent: y no longer reads the add. */
static void fuse_residual_adds(oclnn_graph *g)
{
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *y = g->tensors[i];
        if (!y->op || !y->op->take_residual || y->nsrc >= OCLNN_MAX_SRC) continue;
        oclnn_tensor *in = y->src[0], *a = in->storage;
        bool ok = a->op && a->op->plain_add && !a->fused_away && a->nsrc == 2 && a->storage == a &&
                  a->naux == 0 && !(a->flags & (T_PERSISTENT | T_AUX)) && whole(in, a) &&
                  node_readers(g, a) == 1;
        for (int k = 0; ok && k < 2; k++)
            ok = a->src[k]->dtype == a->dtype && oclnn_tensor_is_contiguous(a->src[k]) &&
                 oclnn_tensor_numel(a->src[k]) == oclnn_tensor_numel(a);
        if (!ok) continue;
        y->op->take_residual(y, a->src[0], a->src[1]);
        a->fused_away = true;
    }
}

/* Assigns node indices and last uses. */
static void compute_liveness(oclnn_graph *g)
{
    int k = 0;
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        t->node_index = t->op ? k++ : -1;
    }
    g->node_count = k;
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (t->flags & T_AUX) t->node_index = t->aux_of->node_index;
        t->last_use = t->node_index;
    }
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        if (!t->op) continue;
        for (int s = 0; s < t->nsrc; s++) {
            oclnn_tensor *st = t->src[s]->storage;
            if (st->last_use < t->node_index) st->last_use = t->node_index;
        }
    }
}

oclnn_status oclnn_graph_plan(oclnn_graph *g, bool reuse)
{
    /* without memory reuse (a debugging aid) every node keeps its own memory */
    if (reuse) {
        fuse_accumulations(g);
        fuse_activations(g);
        fuse_residual_adds(g);
    }
    compute_liveness(g);
    arena_plan plan = {.align = g->arena_align ? g->arena_align : 256};
    for (int i = 0; i < g->count; i++) g->tensors[i]->inplace_of = NULL;
    g->naive_bytes = 0;
    /* nodes in order; freed[i] lists storages dying at node i */
    oclnn_tensor **order = malloc(sizeof *order * (size_t)(g->count + 1));
    if (!order) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "planner: out of host memory");
    int n = 0;
    for (int i = 0; i < g->count; i++)
        if (g->tensors[i]->op) order[n++] = g->tensors[i];

    oclnn_status status = OCLNN_OK;
    for (int i = 0; i < n && !status; i++) {
        oclnn_tensor *node = order[i];
        oclnn_tensor *outs[1 + OCLNN_MAX_AUX];
        int nouts = 0;
        outs[nouts++] = node;
        for (int a = 0; a < node->naux; a++) outs[nouts++] = node->aux[a];
        for (int o = 0; o < nouts; o++) {
            oclnn_tensor *t = outs[o];
            if (t->storage != t || is_persistent(t)) continue;
            g->naive_bytes += align_up(&plan, t->bytes ? t->bytes : 1);
            if (reuse && o == 0 && can_run_in_place(t, i)) {
                oclnn_tensor *st = t->src[0]->storage;
                t->byte_offset = st->byte_offset;
                t->inplace_of = st;
                arena_transfer(&plan, st, t);
                continue;
            }
            size_t off;
            if (!arena_alloc(&plan, t, t->bytes, &off)) {
                status = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "planner: out of host memory");
                break;
            }
            t->byte_offset = off;
        }
        if (!reuse) continue;
        /* Free everything whose last reader is this node (including outputs
         * nobody reads, which live only while their node runs). */
        for (int s = 0; s < node->nsrc; s++) {
            oclnn_tensor *st = node->src[s]->storage;
            if (!is_persistent(st) && st->last_use == i) arena_free(&plan, st);
        }
        for (int o = 0; o < nouts; o++)
            if (outs[o]->storage == outs[o] && outs[o]->last_use == i) arena_free(&plan, outs[o]);
    }
    g->arena_bytes = plan.peak;
    free(plan.live);
    free(order);
    return status;
}
