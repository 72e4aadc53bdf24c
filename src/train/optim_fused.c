/* Dense parameters: their state blocks and the launches that update them.
 *
 * The graph allocates every parameter as a sub-buffer of one parameter
 * block and every dense gradient as a sub-buffer of one gradient block
 * (src/graph/exec.c). The optimizer adds one state block per state kind
 * (Adam's exp_avg, exp_avg_sq ...), each slot's state a sub-buffer of it, so
 * one kernel launch over a table of segments updates every parameter: one
 * launch per step instead of one per parameter. The per-element rule is the
 * same function in both kernels (cl/optim.cl), so the fused update gives
 * the same bits as the per-parameter one (tests/test_optim.c checks).
 * OCLNN_FUSED_OPTIM=0 selects one launch per parameter, for comparison. */
#include "train/optim_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern const char oclnn_cl_optim[];

static const char *const kind_name[4] = {"sgd", "adam", "adamw", "adagrad"};
static const char *const step_kernel[4] = {"sgd_step", "adam_step", "adam_step", "adagrad_step"};
static const char *const fused_kernel[4] = {"sgd_fused", "adam_fused", "adam_fused", "adagrad_fused"};

/* Kernels' state arguments: SGD and Adagrad have one (SGD without momentum
 * has none, so the argument aliases the parameters, untouched), Adam two. */
static int state_args(const oclnn_optimizer *opt) { return opt->kind == OPT_SGD || opt->kind == OPT_ADAGRAD ? 1 : 2; }

void oclnn_optim_units_release(oclnn_optimizer *opt)
{
    for (int u = 0; u < opt->nunits; u++) {
        if (opt->units[u].kernel) clReleaseKernel(opt->units[u].kernel);
        if (opt->units[u].table) clReleaseMemObject(opt->units[u].table);
        if (opt->units[u].groups) clReleaseMemObject(opt->units[u].groups);
    }
    free(opt->units);
    opt->units = NULL;
    opt->nunits = 0;
    for (int k = 0; k < MAX_STATES; k++) /* after the slots' sub-buffers */
        if (opt->state_block[k]) clReleaseMemObject(opt->state_block[k]);
}

/* The block a tensor's buffer is a sub-buffer of (or the buffer itself) and
 * the tensor's element offset in it. */
static void block_of(const oclnn_tensor *t, cl_mem *block, int64_t *elem)
{
    cl_mem parent = NULL;
    size_t origin = 0;
    if (clGetMemObjectInfo(t->buffer, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof parent, &parent, NULL) != CL_SUCCESS ||
        !parent || clGetMemObjectInfo(t->buffer, CL_MEM_OFFSET, sizeof origin, &origin, NULL) != CL_SUCCESS) {
        parent = t->buffer;
        origin = 0;
    }
    *block = parent;
    *elem = (int64_t)(origin / sizeof(float)) + oclnn_tensor_elem_offset(t);
}

/* One state block per state kind; slot states are sub-buffers at aligned
 * offsets, filled once with the initial value. */
static oclnn_status state_blocks(oclnn_optimizer *opt)
{
    oclnn_context *ctx = opt->g->ctx;
    size_t align = opt->g->arena_align ? opt->g->arena_align : 256, total = 0;
    for (int p = 0; p < opt->nslots; p++) {
        opt_slot *s = &opt->slots[p];
        if (s->sparse) continue;
        s->state_off = total / sizeof(float);
        total += ((s->n ? s->n : 1) * sizeof(float) + align - 1) / align * align; /* empty: a 1-float sub-buffer */
    }
    const float init = opt->kind == OPT_ADAGRAD ? (float)opt->initial_accumulator_value : 0.0f;
    oclnn_status st = OCLNN_OK;
    for (int k = 0; k < opt->nstates && total && !st; k++) {
        st = oclnn_buffer_create(ctx, total, "optimizer state", &opt->state_block[k]);
        if (!st)
            st = oclnn_cl_check(clEnqueueFillBuffer(ctx->queue, opt->state_block[k], &init, sizeof init, 0, total, 0,
                                                    NULL, NULL),
                                "clEnqueueFillBuffer", "optimizer state");
        for (int p = 0; p < opt->nslots && !st; p++) {
            opt_slot *s = &opt->slots[p];
            if (s->sparse) continue;
            cl_buffer_region region = {s->state_off * sizeof(float), s->n ? s->n * sizeof(float) : 1};
            cl_int err = CL_SUCCESS;
            s->state[k] = clCreateSubBuffer(opt->state_block[k], CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                            &region, &err);
            if (err) {
                s->state[k] = NULL;
                st = oclnn_cl_check(err, "clCreateSubBuffer", s->state_name[k]);
            }
        }
    }
    return st;
}

/* A unit updating slot s alone: (p, p_off, g, g_off, states, n). */
static oclnn_status bind_single(const oclnn_optimizer *opt, opt_unit *u, const opt_slot *s)
{
    const char *op = kind_name[opt->kind];
    cl_uint i = 0;
    oclnn_status st = oclnn_arg_tensor(u->kernel, &i, s->param, op);
    if (!st) st = oclnn_arg_tensor(u->kernel, &i, s->grad, op);
    for (int k = 0; k < state_args(opt) && !st; k++) {
        cl_mem b = s->state[k] ? s->state[k] : s->param->buffer;
        st = oclnn_arg(u->kernel, &i, sizeof b, &b, op);
    }
    if (!st) st = oclnn_arg_count(u->kernel, &i, (int64_t)s->n, op);
    u->step_args = i;
    u->global = s->n;
    return st;
}

static oclnn_status int_table(oclnn_optimizer *opt, const cl_int *values, size_t count, cl_mem *out)
{
    cl_int err;
    *out = clCreateBuffer(opt->g->ctx->cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, count * sizeof *values,
                          (void *)values, &err);
    if (err) *out = NULL;
    return err ? oclnn_cl_check(err, "clCreateBuffer", kind_name[opt->kind]) : OCLNN_OK;
}

/* Elements per work item of a fused update: one on GPUs; on CPUs enough
 * for a vectorised inner loop, and few enough items to share the cores. */
#define CPU_CHUNK 1024

/* A fused unit over the nseg slots listed: (p block, g block, state blocks,
 * seg, grp, nitems, chunk); see cl/optim.cl. Returns OCLNN_ERR_UNSUPPORTED,
 * quietly, when an offset would not fit an int: the caller then updates
 * those slots one by one. */
static oclnn_status bind_fused(oclnn_optimizer *opt, opt_unit *u, cl_mem pblock, cl_mem gblock, opt_slot *const *list,
                               int nseg)
{
    const char *op = kind_name[opt->kind];
    int64_t chunk = opt->g->ctx->info.is_gpu ? 1 : CPU_CHUNK, items = 0;
    for (int r = 0; r < nseg; r++) items += ((int64_t)list[r]->n + chunk - 1) / chunk;
    cl_int *rows = malloc((size_t)nseg * 5 * sizeof *rows), *grp = malloc((size_t)(items ? items : 1) * sizeof *grp);
    if (!rows || !grp) {
        free(rows);
        free(grp);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", op);
    }
    oclnn_status st = OCLNN_OK;
    int64_t w = 0;
    for (int r = 0; r < nseg && !st; r++) {
        cl_mem b;
        int64_t poff, goff, n = (int64_t)list[r]->n;
        block_of(list[r]->param, &b, &poff);
        block_of(list[r]->grad, &b, &goff);
        if (poff + n > INT32_MAX || goff + n > INT32_MAX || (int64_t)list[r]->state_off + n > INT32_MAX) {
            st = OCLNN_ERR_UNSUPPORTED;
            break;
        }
        const cl_int row[5] = {(cl_int)w, (cl_int)n, (cl_int)poff, (cl_int)goff, (cl_int)list[r]->state_off};
        memcpy(rows + 5 * r, row, sizeof row);
        for (int64_t e = 0; e < (n + chunk - 1) / chunk; e++) grp[w++] = r;
    }
    if (!st) st = int_table(opt, rows, (size_t)nseg * 5, &u->table);
    if (!st) st = int_table(opt, grp, (size_t)(items ? items : 1), &u->groups);
    free(rows);
    free(grp);
    if (st) return st;
    u->nseg = nseg;
    cl_uint i = 0;
    st = oclnn_arg(u->kernel, &i, sizeof pblock, &pblock, op);
    if (!st) st = oclnn_arg(u->kernel, &i, sizeof gblock, &gblock, op);
    for (int s = 0; s < state_args(opt) && !st; s++) {
        cl_mem b = opt->state_block[s] ? opt->state_block[s] : pblock;
        st = oclnn_arg(u->kernel, &i, sizeof b, &b, op);
    }
    if (!st) st = oclnn_arg(u->kernel, &i, sizeof u->table, &u->table, op);
    if (!st) st = oclnn_arg(u->kernel, &i, sizeof u->groups, &u->groups, op);
    if (!st) st = oclnn_arg_count(u->kernel, &i, items, op);
    if (!st) st = oclnn_arg_count(u->kernel, &i, chunk, op);
    u->step_args = i;
    oclnn_launch l = {.kernel = u->kernel};
    if (!st && opt->g->ctx->info.is_gpu) st = oclnn_launch_1d_groups(opt->g->ctx, &l, (size_t)items, op);
    u->global = l.local[0] ? l.global[0] : (size_t)items; /* CPUs: the driver splits the items */
    u->local = l.local[0];
    return st;
}

static oclnn_status add_unit(oclnn_optimizer *opt, const char *kernel, opt_unit **out)
{
    opt_unit *u = &opt->units[opt->nunits];
    memset(u, 0, sizeof *u);
    oclnn_status st = oclnn_kernel_create(opt->g->ctx, oclnn_cl_optim, "", kernel, kind_name[opt->kind], &u->kernel);
    if (!st) opt->nunits++;
    *out = u;
    return st;
}

/* Groups the dense slots by (parameter block, gradient block) in slot
 * order: one fused unit per group, normally one for all. */
static oclnn_status make_units(oclnn_optimizer *opt, bool fused)
{
    opt_slot **list = malloc((size_t)(opt->nslots ? opt->nslots : 1) * sizeof *list);
    bool *done = calloc((size_t)(opt->nslots ? opt->nslots : 1), sizeof *done);
    if (!list || !done) {
        free(list);
        free(done);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", kind_name[opt->kind]);
    }
    oclnn_status st = OCLNN_OK;
    opt_unit *u;
    for (int p = 0; p < opt->nslots && !st; p++) {
        if (opt->slots[p].sparse || done[p]) continue;
        cl_mem pb, gb, pb2, gb2;
        int64_t off;
        block_of(opt->slots[p].param, &pb, &off);
        block_of(opt->slots[p].grad, &gb, &off);
        int nseg = 0;
        for (int q = p; q < opt->nslots && fused; q++) {
            if (opt->slots[q].sparse || done[q]) continue;
            block_of(opt->slots[q].param, &pb2, &off);
            block_of(opt->slots[q].grad, &gb2, &off);
            if (pb2 == pb && gb2 == gb) list[nseg++] = &opt->slots[q];
        }
        if (nseg > 0 && !(st = add_unit(opt, fused_kernel[opt->kind], &u))) {
            u->first = list[0];
            st = bind_fused(opt, u, pb, gb, list, nseg);
            if (st == OCLNN_ERR_UNSUPPORTED && !u->table) { /* offsets past int: one launch per slot */
                clReleaseKernel(u->kernel);
                opt->nunits--;
                nseg = 0;
                st = OCLNN_OK;
            }
        }
        for (int r = 0; r < nseg; r++) done[list[r] - opt->slots] = true;
        if (!st && !done[p] && !(st = add_unit(opt, step_kernel[opt->kind], &u))) {
            u->first = &opt->slots[p];
            st = bind_single(opt, u, &opt->slots[p]);
            done[p] = true;
        }
    }
    free(list);
    free(done);
    return st;
}

oclnn_status oclnn_optim_dense_setup(oclnn_optimizer *opt)
{
    if (!(opt->units = calloc((size_t)(opt->nslots ? opt->nslots : 1), sizeof *opt->units)))
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", kind_name[opt->kind]);
    const char *env = getenv("OCLNN_FUSED_OPTIM");
    oclnn_status st = state_blocks(opt);
    return st ? st : make_units(opt, !(env && strcmp(env, "0") == 0));
}
