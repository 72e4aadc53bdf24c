/* Weight files and training checkpoints as safetensors.
 *
 * A weights file holds every parameter and every named persistent state
 * tensor under its graph name. A checkpoint adds the optimizer's state
 * buffers ("<param>.<state>") and, in __metadata__, "format":
 * "oclnn-checkpoint", the optimizer's name, step and hyper-parameters.
 * Loading validates the whole file against the graph before the first
 * upload, so a mismatch leaves the graph and optimizer as they were. */
#include "graph/graph.h"
#include "oclnn/safetensors.h"
#include "oclnn/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_FORMAT "oclnn-checkpoint"
#define MAX_META 16

/* optim.c internals */
oclnn_graph *oclnn_optim_graph(const oclnn_optimizer *opt);
int oclnn_optim_meta(const oclnn_optimizer *opt, char keys[][32], char values[][40], int max);
oclnn_status oclnn_optim_meta_apply(oclnn_optimizer *opt, int count, const char *const *keys,
                                    const char *const *values, bool apply, const char *path);

static const char *const state_suffixes[] = {"momentum_buffer", "exp_avg", "exp_avg_sq"};

/* One tensor of a file: a graph tensor, or optimizer state `state` (shaped
 * like its parameter `tensor`). */
typedef struct entry {
    const char *name;
    oclnn_tensor *tensor;
    int state;
} entry;

static oclnn_dtype entry_dtype(const entry *e) { return e->state >= 0 ? OCLNN_DTYPE_F32 : e->tensor->dtype; }

static oclnn_status collect(oclnn_graph *g, const oclnn_optimizer *opt, const char *what, entry **out, int *count)
{
    *out = NULL;
    *count = 0;
    if (!g) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL graph", what);
    if (!g->compiled) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: compile the graph first", what);
    if (opt && oclnn_optim_graph(opt) != g)
        return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: the optimizer belongs to another graph", what);
    int nstate = opt ? oclnn_optimizer_state_count(opt) : 0;
    entry *list = malloc(sizeof *list * (size_t)(g->count + nstate + 1));
    if (!list) return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    int n = 0;
    for (int i = 0; i < g->count; i++) {
        oclnn_tensor *t = g->tensors[i];
        bool param = (t->flags & T_PARAM) != 0, state = (t->flags & T_STATE) && t->name && t->storage == t;
        if (!param && !state) continue;
        if (!t->name) {
            free(list);
            return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: parameter #%d has no name; weight files need names", what, i);
        }
        list[n++] = (entry){t->name, t, -1};
    }
    for (int i = 0; i < nstate; i++)
        list[n++] = (entry){oclnn_optimizer_state_name(opt, i), oclnn_optimizer_state_param(opt, i), i};
    *out = list;
    *count = n;
    return OCLNN_OK;
}

static void free_host(oclnn_st_tensor *ts, int n)
{
    for (int i = 0; i < n; i++) free(ts[i].data);
    free(ts);
}

static oclnn_status save(oclnn_graph *g, const oclnn_optimizer *opt, const char *path, const char *what)
{
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL path", what);
    entry *list;
    int n;
    oclnn_status s = collect(g, opt, what, &list, &n);
    if (s) return s;
    oclnn_st_tensor *ts = calloc((size_t)(n ? n : 1), sizeof *ts);
    if (!ts) {
        free(list);
        return oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    }
    for (int i = 0; i < n && !s; i++) {
        const oclnn_tensor *t = list[i].tensor;
        oclnn_st_tensor *st = &ts[i];
        st->name = (char *)list[i].name;
        st->dtype = entry_dtype(&list[i]);
        st->ndim = t->ndim;
        memcpy(st->shape, t->dims, sizeof(int64_t) * (size_t)t->ndim);
        st->nbytes = (size_t)oclnn_tensor_numel(t) * oclnn_dtype_size(st->dtype);
        if (!(st->data = malloc(st->nbytes ? st->nbytes : 1))) {
            s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
            break;
        }
        s = list[i].state >= 0 ? oclnn_optimizer_state_read(opt, list[i].state, st->data, st->nbytes)
                               : oclnn_tensor_read(list[i].tensor, st->data, st->nbytes);
    }
    char keys[MAX_META][32], values[MAX_META][40];
    const char *kp[MAX_META], *vp[MAX_META];
    int nmeta = 0;
    snprintf(keys[nmeta], sizeof keys[0], "format");
    snprintf(values[nmeta++], sizeof values[0], "%s", opt ? CHECKPOINT_FORMAT : "pt");
    if (opt) nmeta += oclnn_optim_meta(opt, keys + nmeta, values + nmeta, MAX_META - nmeta);
    for (int i = 0; i < nmeta; i++) {
        kp[i] = keys[i];
        vp[i] = values[i];
    }
    if (!s) s = oclnn_safetensors_save(path, ts, n, kp, vp, nmeta);
    if (s) oclnn_fail_append(s, " (%s '%s')", what, path);
    free_host(ts, n);
    free(list);
    return s;
}

oclnn_status oclnn_graph_save_weights(oclnn_graph *g, const char *path)
{
    return save(g, NULL, path, "oclnn_graph_save_weights");
}

oclnn_status oclnn_checkpoint_save(oclnn_graph *g, const oclnn_optimizer *opt, const char *path)
{
    if (!opt) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_checkpoint_save: NULL optimizer");
    return save(g, opt, path, "oclnn_checkpoint_save");
}

/* ---- loading */

static const char *meta_value(const oclnn_safetensors *st, const char *key)
{
    for (int i = 0; i < st->meta_count; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

static bool is_checkpoint(const oclnn_safetensors *st)
{
    const char *f = meta_value(st, "format");
    return f && strcmp(f, CHECKPOINT_FORMAT) == 0;
}

static const entry *find_entry(const entry *list, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(list[i].name) == len && strncmp(list[i].name, name, len) == 0) return &list[i];
    return NULL;
}

/* "<param>.<optimizer state>" of a checkpoint: skipped when only weights load. */
static bool is_optimizer_state(const char *name, const entry *list, int n)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    for (size_t k = 0; k < sizeof state_suffixes / sizeof state_suffixes[0]; k++) {
        if (strcmp(dot + 1, state_suffixes[k]) != 0) continue;
        const entry *e = find_entry(list, n, name, (size_t)(dot - name));
        return e && (e->tensor->flags & T_PARAM);
    }
    return false;
}

static const char *shape_text(oclnn_dtype dtype, int ndim, const int64_t *dims, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s [", oclnn_dtype_name(dtype));
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

/* Every check before any upload; on success file[i] is entry i's tensor (or NULL). */
static oclnn_status validate(const oclnn_safetensors *st, const entry *list, int n, unsigned flags, bool skip_states,
                             const char *what, const char *path, const oclnn_st_tensor **file)
{
    for (int i = 0; i < n; i++) {
        const entry *e = &list[i];
        const oclnn_st_tensor *f = file[i] = oclnn_safetensors_find(st, e->name);
        if (!f) {
            if ((flags & OCLNN_LOAD_ALLOW_MISSING) && e->state < 0) continue;
            return oclnn_fail(OCLNN_ERR_NOT_FOUND, "%s '%s': '%s' is missing from the file", what, path, e->name);
        }
        const oclnn_tensor *t = e->tensor;
        bool same = f->dtype == entry_dtype(e) && f->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++) same = f->shape[d] == t->dims[d];
        if (!same) {
            char a[160], b[160];
            return oclnn_fail(OCLNN_ERR_SHAPE, "%s '%s': '%s' is %s in the file but %s in the graph", what, path,
                              e->name, shape_text(f->dtype, f->ndim, f->shape, a, sizeof a),
                              shape_text(entry_dtype(e), t->ndim, t->dims, b, sizeof b));
        }
    }
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[i].name;
        if (find_entry(list, n, name, strlen(name))) continue;
        if (skip_states && is_optimizer_state(name, list, n)) continue;
        if (flags & OCLNN_LOAD_ALLOW_EXTRA) continue;
        return oclnn_fail(OCLNN_ERR_NOT_FOUND, "%s '%s': the file has '%s', which the graph does not", what, path,
                          name);
    }
    return OCLNN_OK;
}

static oclnn_status load(oclnn_graph *g, oclnn_optimizer *opt, const char *path, unsigned flags, const char *what)
{
    if (!path) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "%s: NULL path", what);
    entry *list;
    int n;
    oclnn_status s = collect(g, opt, what, &list, &n);
    if (s) return s;
    oclnn_safetensors *st = NULL;
    const oclnn_st_tensor **file = calloc((size_t)(n ? n : 1), sizeof *file);
    if (!file) s = oclnn_fail(OCLNN_ERR_OUT_OF_MEMORY, "%s: out of host memory", what);
    if (!s) s = oclnn_safetensors_load(path, &st);
    if (!s && opt && !is_checkpoint(st))
        s = oclnn_fail(OCLNN_ERR_FORMAT, "%s '%s': not an oclnn checkpoint (no \"format\": \"%s\" metadata)", what,
                       path, CHECKPOINT_FORMAT);
    if (!s && opt)
        s = oclnn_optim_meta_apply(opt, st->meta_count, (const char *const *)st->meta_keys,
                                   (const char *const *)st->meta_values, false, path);
    if (!s) s = validate(st, list, n, flags, !opt && is_checkpoint(st), what, path, file);
    for (int i = 0; i < n && !s; i++) {
        if (!file[i]) continue;
        s = list[i].state >= 0 ? oclnn_optimizer_state_write(opt, list[i].state, file[i]->data, file[i]->nbytes)
                               : oclnn_tensor_write(list[i].tensor, file[i]->data, file[i]->nbytes);
    }
    if (!s && opt)
        s = oclnn_optim_meta_apply(opt, st->meta_count, (const char *const *)st->meta_keys,
                                   (const char *const *)st->meta_values, true, path);
    oclnn_safetensors_free(st);
    free(file);
    free(list);
    return s;
}

oclnn_status oclnn_graph_load_weights_ex(oclnn_graph *g, const char *path, unsigned flags)
{
    return load(g, NULL, path, flags, "oclnn_graph_load_weights");
}

oclnn_status oclnn_graph_load_weights(oclnn_graph *g, const char *path)
{
    return load(g, NULL, path, 0, "oclnn_graph_load_weights");
}

oclnn_status oclnn_checkpoint_load(oclnn_graph *g, oclnn_optimizer *opt, const char *path)
{
    if (!opt) return oclnn_fail(OCLNN_ERR_INVALID_ARG, "oclnn_checkpoint_load: NULL optimizer");
    return load(g, opt, path, 0, "oclnn_checkpoint_load");
}
