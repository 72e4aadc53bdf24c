/* oclnn training: reverse-mode autodiff over a graph, losses, optimizers,
 * initialisation and checkpoints.
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

/* ---- Row-sparse gradients, for embedding tables too big to sweep every
 * step. A 2-D parameter [V, D] marked before oclnn_graph_backward gets,
 * instead of a dense [V, D] accumulator, a list of entries (row index, D
 * values) appended by the oclnn_embedding lookups that read it: each lookup
 * appends, per run, the unique rows its ids touched (sorted, repeated ids
 * summed on the device in a fixed order, no atomics). So backward, the
 * optimizer step and zero_grad cost O(rows touched), never O(V).
 *   max_runs > 0: sparse, with room for max_runs runs between zero_grads
 *     (capacity = max_runs * the ids per run of all its lookups, fixed at
 *     compile); a run past that fails with OCLNN_ERR_UNSUPPORTED naming the
 *     param, before any gradient changes. max_runs = 0: dense (the default).
 * Errors: not a parameter, not 2-D, or the graph already differentiated.
 * Only oclnn_embedding may read a sparse param: another op reading it makes
 * oclnn_graph_backward fail. oclnn_graph_zero_grad forgets the entries in
 * O(1). oclnn_tensor_grad returns NULL for it (with a message); read it with
 * the two functions below. Optimizers update only the rows listed:
 *   SGD      p -= lr*g; momentum, weight decay and Nesterov are refused;
 *   Adam     PyTorch's SparseAdam ("lazy" Adam): moments of absent rows stay
 *            as they are; m += (g-m)*(1-beta1); v += (g*g-v)*(1-beta2);
 *            p -= lr*sqrt(1-beta2^t)/(1-beta1^t) * m/(sqrt(v)+eps);
 *            weight decay is refused (SparseAdam has none);
 *   Adagrad  as dense Adagrad on those rows; weight decay is refused.
 * A refused combination fails when the optimizer is created. */
oclnn_status oclnn_param_set_sparse_grad(oclnn_tensor *param, int max_runs);
/* max_runs of a sparse param, 0 for a dense one (or NULL). */
int oclnn_param_sparse_grad(const oclnn_tensor *param);
/* The entries appended since the last zero_grad (waits for the device):
 * *count gets their number; when rows and values are given (room for
 * max_count entries, else OCLNN_ERR_SHAPE), rows[k] and values[k*D ..
 * k*D+D) hold entry k. A row appears at most once per run and lookup but
 * may repeat across them: its gradient is the sum of its entries. */
oclnn_status oclnn_sparse_grad_read(oclnn_tensor *param, int32_t *rows, float *values, int64_t max_count,
                                    int64_t *count);
/* The same gradient as a dense [V, D] host array (bytes = V*D*4; rows not
 * listed are 0, entries summed in order), for tests and debugging. */
oclnn_status oclnn_sparse_grad_densify(oclnn_tensor *param, float *dense, size_t bytes);

/* ---- Losses (src/ops/loss.c). Graph ops with backward. With MEAN or SUM
 * the output is a scalar (shape []); with NONE it has one value per element
 * (mse, bce) or per row (cross entropy, nll). */
typedef enum oclnn_reduction {
    OCLNN_REDUCTION_NONE = 0,
    OCLNN_REDUCTION_MEAN = 1,
    OCLNN_REDUCTION_SUM = 2
} oclnn_reduction;

/* Labels equal to this (PyTorch's default ignore_index) contribute zero
 * loss and zero gradient, and are not counted by MEAN. */
#define OCLNN_IGNORE_INDEX (-100)

/* (pred - target)^2; pred and target have the same shape; both get
 * gradients. */
oclnn_tensor *oclnn_mse_loss(oclnn_graph *g, oclnn_tensor *pred, oclnn_tensor *target, oclnn_reduction reduction);
/* Binary cross entropy on logits, evaluated stably as
 * max(x,0) - x*t + log1p(exp(-|x|)); both inputs get gradients. */
oclnn_tensor *oclnn_bce_with_logits_loss(oclnn_graph *g, oclnn_tensor *logits, oclnn_tensor *target,
                                         oclnn_reduction reduction);
/* Softmax cross entropy of logits [N, C] against i32 class labels [N], one
 * fused kernel (per-row log-sum-exp; backward softmax - smoothed one-hot).
 * PyTorch semantics: loss = (1-eps)*nll + eps*mean_c(-log p_c) with eps =
 * label_smoothing in [0, 1]; MEAN divides by the number of rows whose label
 * is not OCLNN_IGNORE_INDEX. A label outside [0, C) (other than the ignore
 * value) is never used to index memory: that row's loss and gradient are
 * NaN, so MEAN/SUM become NaN too (PyTorch raises an error instead). */
oclnn_tensor *oclnn_cross_entropy_loss(oclnn_graph *g, oclnn_tensor *logits, oclnn_tensor *labels,
                                       oclnn_reduction reduction, float label_smoothing);
/* -log_probs[n, labels[n]] for log_probs [N, C] (e.g. from log_softmax);
 * labels as for cross entropy (ignore value, NaN for out-of-range). */
oclnn_tensor *oclnn_nll_loss(oclnn_graph *g, oclnn_tensor *log_probs, oclnn_tensor *labels, oclnn_reduction reduction);

/* ---- Optimizers (src/train/optim.c): device kernels that update every
 * parameter of a graph that has a gradient, from its accumulator. Create
 * one after oclnn_graph_backward + oclnn_graph_compile; a training step is
 *     oclnn_graph_zero_grad(g); oclnn_graph_run(g); oclnn_optimizer_step(opt);
 * The rules are torch.optim's, in fp32:
 *   SGD:  d = g + wd*p; if momentum: b = d on the first step, else
 *         b = momentum*b + (1-dampening)*d; d = nesterov ? d + momentum*b : b;
 *         p -= lr*d.  State: "<param>.momentum_buffer" (when momentum != 0).
 *   Adam: g += wd*p (Adam) or p *= 1 - lr*wd (AdamW, decoupled != 0);
 *         m = lerp(m, g, 1-beta1); v = beta2*v + (1-beta2)*g^2;
 *         p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps).
 *         State: "<param>.exp_avg", "<param>.exp_avg_sq".
 * State buffers live on the device, owned by the optimizer, zero at start
 * (Adagrad's: initial_accumulator_value). Parameters with a row-sparse
 * gradient follow the sparse rules under oclnn_param_set_sparse_grad. */
typedef struct oclnn_optimizer oclnn_optimizer;

oclnn_optimizer *oclnn_optimizer_sgd(oclnn_graph *g, float lr, float momentum, float dampening, float weight_decay,
                                     int nesterov);
oclnn_optimizer *oclnn_optimizer_adam(oclnn_graph *g, float lr, float beta1, float beta2, float eps,
                                      float weight_decay, int decoupled /* AdamW */);
/* torch.optim.Adagrad: g += wd*p; clr = lr / (1 + (t-1)*lr_decay);
 * sum += g*g; p -= clr * g / (sqrt(sum) + eps). State "<param>.sum",
 * starting at initial_accumulator_value. */
oclnn_optimizer *oclnn_optimizer_adagrad(oclnn_graph *g, float lr, float lr_decay, float weight_decay,
                                         float initial_accumulator_value, float eps);
/* Enqueues one update of every parameter (does not wait). */
oclnn_status oclnn_optimizer_step(oclnn_optimizer *opt);
oclnn_status oclnn_optimizer_set_lr(oclnn_optimizer *opt, float lr);
float oclnn_optimizer_get_lr(const oclnn_optimizer *opt);
/* Number of steps taken (Adam's t after the last step). */
int64_t oclnn_optimizer_get_step(const oclnn_optimizer *opt);
/* "sgd", "adam", "adamw" or "adagrad". */
const char *oclnn_optimizer_name(const oclnn_optimizer *opt);
void oclnn_optimizer_release(oclnn_optimizer *opt);
/* State buffers as named tensors of their parameter's shape (f32), for
 * inspection and checkpoints. */
int oclnn_optimizer_state_count(const oclnn_optimizer *opt);
const char *oclnn_optimizer_state_name(const oclnn_optimizer *opt, int i);
oclnn_tensor *oclnn_optimizer_state_param(const oclnn_optimizer *opt, int i);
oclnn_status oclnn_optimizer_state_read(const oclnn_optimizer *opt, int i, float *data, size_t bytes);
oclnn_status oclnn_optimizer_state_write(oclnn_optimizer *opt, int i, const float *data, size_t bytes);

/* ---- Learning-rate schedules: lr as a function of the epoch (or step)
 * counter, as PyTorch's closed forms:
 *   constant: base_lr
 *   step:     base_lr * gamma^floor(epoch / step_size)          (StepLR)
 *   cosine:   eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2
 *             (CosineAnnealingLR; keeps oscillating past t_max like it) */
typedef enum oclnn_lr_kind { OCLNN_LR_CONSTANT = 0, OCLNN_LR_STEP = 1, OCLNN_LR_COSINE = 2 } oclnn_lr_kind;
typedef struct oclnn_lr_schedule {
    oclnn_lr_kind kind;
    double base_lr;
    int64_t step_size; /* step */
    double gamma;      /* step */
    int64_t t_max;     /* cosine */
    double eta_min;    /* cosine */
} oclnn_lr_schedule;
oclnn_lr_schedule oclnn_lr_constant(double lr);
oclnn_lr_schedule oclnn_lr_step(double lr, int64_t step_size, double gamma);
oclnn_lr_schedule oclnn_lr_cosine(double lr, int64_t t_max, double eta_min);
/* The rate at `epoch` (0 = the start); base_lr for a malformed schedule. */
double oclnn_lr_schedule_at(const oclnn_lr_schedule *s, int64_t epoch);

/* ---- Initialisation (src/train/init.c), PyTorch's rules, drawn on the
 * device from the Philox generator (same values on every device) after
 * compile. fan_in = dims[1] * prod(dims[2:]), fan_out = dims[0] *
 * prod(dims[2:]); these need rank >= 2. Where no stream is given, a tensor
 * uses stream oclnn_init_stream(name) (a 64-bit FNV-1a hash of its name),
 * so a parameter's values depend only on the seed and its name, not on the
 * order of the parameters. */
uint64_t oclnn_init_stream(const char *name);
/* U(-b, b), b = sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in) (leaky_relu gain). */
oclnn_status oclnn_init_kaiming_uniform(oclnn_tensor *t, float a, uint64_t seed, uint64_t stream);
/* U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)). */
oclnn_status oclnn_init_xavier_uniform(oclnn_tensor *t, float gain, uint64_t seed, uint64_t stream);
oclnn_status oclnn_init_uniform(oclnn_tensor *t, float low, float high, uint64_t seed, uint64_t stream);
oclnn_status oclnn_init_normal(oclnn_tensor *t, float mean, float stddev, uint64_t seed, uint64_t stream);
/* nn.Linear / nn.Conv*d defaults: weight kaiming_uniform(a = sqrt(5)),
 * bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias may be NULL. */
oclnn_status oclnn_init_linear(oclnn_tensor *weight, oclnn_tensor *bias, uint64_t seed);
oclnn_status oclnn_init_conv(oclnn_tensor *weight, oclnn_tensor *bias, uint64_t seed);
/* Every parameter (and named state) by its name, with PyTorch's defaults:
 *   "*embedding*.weight" (rank 2)     N(0, 1)                    (nn.Embedding)
 *   "*weight_ih_l*", "*weight_hh_l*", "*bias_ih_l*", "*bias_hh_l*"
 *                                     U(+-1/sqrt(H)), H = weight_hh's dims[1]   (nn.LSTM/GRU)
 *   any other param of rank >= 2      as oclnn_init_linear's weight, and the
 *                                     sibling "<prefix>.bias" as its bias
 *   other rank-1 "*weight"            ones (norm layers)
 *   other params (biases, scalars)    zeros
 *   state "*running_var"              ones; other state zeros. */
oclnn_status oclnn_graph_init_params(oclnn_graph *g, uint64_t seed);

/* ---- Weights and checkpoints (src/train/checkpoint.c), as safetensors
 * with the graph's tensor names. Weights = every parameter plus every named
 * persistent state tensor (e.g. batch-norm running stats), in their own
 * dtype. Loading checks every name, dtype and shape first and changes
 * nothing unless all match; the error names the missing, extra or
 * mismatched tensor (OCLNN_ERR_NOT_FOUND, OCLNN_ERR_SHAPE). Loading weights
 * from a checkpoint file skips its optimizer state. Needs a compiled graph. */
oclnn_status oclnn_graph_save_weights(oclnn_graph *g, const char *path);
oclnn_status oclnn_graph_load_weights(oclnn_graph *g, const char *path);
enum {
    OCLNN_LOAD_ALLOW_MISSING = 1, /* graph tensors absent from the file keep their values */
    OCLNN_LOAD_ALLOW_EXTRA = 2    /* file tensors the graph lacks are ignored */
};
oclnn_status oclnn_graph_load_weights_ex(oclnn_graph *g, const char *path, unsigned flags);
/* Weights + optimizer state ("<param>.<state>") + the optimizer's name,
 * step and hyper-parameters in __metadata__. Loading requires the same
 * optimizer kind and restores its step and hyper-parameters (as PyTorch's
 * load_state_dict does), so training resumes exactly. */
oclnn_status oclnn_checkpoint_save(oclnn_graph *g, const oclnn_optimizer *opt, const char *path);
oclnn_status oclnn_checkpoint_load(oclnn_graph *g, oclnn_optimizer *opt, const char *path);

#ifdef __cplusplus
}
#endif
#endif
