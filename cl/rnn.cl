/* LSTM and GRU: the fused per-step kernels (src/ops/rnn.c drives them).
 *
 * Every kernel runs one work item per (n, j), n < N a sequence of the
 * batch, j < H a hidden unit, and reads or writes the rows of one time
 * step. A step's rows are addressed as (buffer, offset, row stride): the
 * host picks offset and stride per step, which is how one kernel serves
 * batch-first and time-major layouts, both directions and the h_n / c_n
 * targets of the last step. All sizes are arguments (no -D): a graph for a
 * new sequence length builds no program.
 *
 * Lengths (PyTorch's packed sequences): a step t >= len[n] leaves the state
 * of sequence n as it was, writes zeros to its output and gates, and in
 * the backward pass passes the state gradients through untouched.
 *
 * No fast math: sigmoid is 1 / (1 + exp(-x)), which is exact to a few ulp
 * and saturates cleanly (exp overflows to inf, giving 0); tanh is the
 * library's, not a formula that cancels near 0. */

float sigm(float x) { return 1.0f / (1.0f + exp(-x)); }

int step_valid(__global const int *len, int len_off, int has_len, int n, int t)
{
    return !has_len || t < len[len_off + n];
}

/* dst rows (ld) = src [N, H] (ld H), or zeros when !has_src: the initial
 * state (h0, c0) of a direction, or the initial state gradient carries. */
__kernel void rnn_init(__global float *dst, int dst_off, int dst_ld, __global const float *src, int src_off,
                       int has_src, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    dst[dst_off + n * dst_ld + j] = has_src ? src[src_off + n * H + j] : 0.0f;
}

/* One LSTM step. On entry the gate rows hold the input projection x W_ih^T
 * of this step (one GEMM for all steps wrote them); r holds h W_hh^T. The
 * kernel replaces the projection with the activated gates i, f, g, o (saved
 * for the backward pass), and writes the new state to the next step's
 * h_prev / c_prev rows, or to h_n / c_n after the last step. */
__kernel void lstm_step(__global float *gates, int g_off, int g_ld, __global const float *r, int r_off,
                        __global const float *bih, int bih_off, __global const float *bhh, int bhh_off,
                        __global const float *hp, int hp_off, int hp_ld, __global const float *cp, int cp_off,
                        int cp_ld, __global float *hn, int hn_off, int hn_ld, __global float *cn, int cn_off,
                        int cn_ld, __global float *y, int y_off, int y_ld, __global const int *len, int len_off,
                        int has_len, int t, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    __global float *gr = gates + g_off + n * g_ld;
    float h_prev = hp[hp_off + n * hp_ld + j], c_prev = cp[cp_off + n * cp_ld + j];
    if (!step_valid(len, len_off, has_len, n, t)) {
        gr[j] = gr[H + j] = gr[2 * H + j] = gr[3 * H + j] = 0.0f;
        hn[hn_off + n * hn_ld + j] = h_prev;
        cn[cn_off + n * cn_ld + j] = c_prev;
        y[y_off + n * y_ld + j] = 0.0f;
        return;
    }
    __global const float *rr = r + r_off + n * 4 * H;
    float i = sigm(gr[j] + rr[j] + bih[bih_off + j] + bhh[bhh_off + j]);
    float f = sigm(gr[H + j] + rr[H + j] + bih[bih_off + H + j] + bhh[bhh_off + H + j]);
    float g = tanh(gr[2 * H + j] + rr[2 * H + j] + bih[bih_off + 2 * H + j] + bhh[bhh_off + 2 * H + j]);
    float o = sigm(gr[3 * H + j] + rr[3 * H + j] + bih[bih_off + 3 * H + j] + bhh[bhh_off + 3 * H + j]);
    float c = f * c_prev + i * g;
    float h = o * tanh(c);
    gr[j] = i;
    gr[H + j] = f;
    gr[2 * H + j] = g;
    gr[3 * H + j] = o;
    hn[hn_off + n * hn_ld + j] = h;
    cn[cn_off + n * cn_ld + j] = c;
    y[y_off + n * y_ld + j] = h;
}

/* One GRU step. Gate rows are 4H wide: on entry the first 3H hold the
 * input projection; the kernel writes r, z, n and W_hn h + b_hn (the
 * backward pass needs it for dr). r holds h W_hh^T, [N, 3H]. */
__kernel void gru_step(__global float *gates, int g_off, int g_ld, __global const float *r, int r_off,
                       __global const float *bih, int bih_off, __global const float *bhh, int bhh_off,
                       __global const float *hp, int hp_off, int hp_ld, __global float *hn, int hn_off, int hn_ld,
                       __global float *y, int y_off, int y_ld, __global const int *len, int len_off, int has_len,
                       int t, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    __global float *gr = gates + g_off + n * g_ld;
    float h_prev = hp[hp_off + n * hp_ld + j];
    if (!step_valid(len, len_off, has_len, n, t)) {
        gr[j] = gr[H + j] = gr[2 * H + j] = gr[3 * H + j] = 0.0f;
        hn[hn_off + n * hn_ld + j] = h_prev;
        y[y_off + n * y_ld + j] = 0.0f;
        return;
    }
    __global const float *rr = r + r_off + n * 3 * H;
    float rg = sigm(gr[j] + rr[j] + bih[bih_off + j] + bhh[bhh_off + j]);
    float zg = sigm(gr[H + j] + rr[H + j] + bih[bih_off + H + j] + bhh[bhh_off + H + j]);
    float hl = rr[2 * H + j] + bhh[bhh_off + 2 * H + j];
    float ng = tanh(gr[2 * H + j] + bih[bih_off + 2 * H + j] + rg * hl);
    float h = (1.0f - zg) * ng + zg * h_prev;
    gr[j] = rg;
    gr[H + j] = zg;
    gr[2 * H + j] = ng;
    gr[3 * H + j] = hl;
    hn[hn_off + n * hn_ld + j] = h;
    y[y_off + n * y_ld + j] = h;
}

/* One LSTM step backward. dh (carry, [N, H]) holds the gradient reaching
 * h_t through the recurrence (h_n's gradient before the first step); dc
 * the same for c_t. Writes the pre-activation gate gradients of the step
 * and leaves in dc the gradient of c_{t-1}; dh is zeroed on valid rows so
 * that the recurrent GEMM that follows (beta = 1) leaves dh_{t-1} there,
 * and keeps the carry on rows past the sequence's length. */
__kernel void lstm_step_grad(__global const float *gates, int g_off, int g_ld, __global const float *cp, int cp_off,
                             int cp_ld, __global const float *dy, int dy_off, int dy_ld, __global float *dh,
                             int dh_off, __global float *dc, int dc_off, __global float *dg, int dg_off, int dg_ld,
                             __global const int *len, int len_off, int has_len, int t, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    __global float *dgr = dg + dg_off + n * dg_ld;
    if (!step_valid(len, len_off, has_len, n, t)) {
        dgr[j] = dgr[H + j] = dgr[2 * H + j] = dgr[3 * H + j] = 0.0f;
        return;
    }
    __global const float *gr = gates + g_off + n * g_ld;
    float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j];
    float c_prev = cp[cp_off + n * cp_ld + j];
    float tc = tanh(f * c_prev + i * g);
    float dht = dy[dy_off + n * dy_ld + j] + dh[dh_off + id];
    float dct = dc[dc_off + id] + dht * o * (1.0f - tc * tc);
    dgr[j] = dct * g * i * (1.0f - i);
    dgr[H + j] = dct * c_prev * f * (1.0f - f);
    dgr[2 * H + j] = dct * i * (1.0f - g * g);
    dgr[3 * H + j] = dht * tc * o * (1.0f - o);
    dc[dc_off + id] = dct * f;
    dh[dh_off + id] = 0.0f;
}

/* One GRU step backward. Writes the gradients of the input-side
 * pre-activations (dgi: r, z, n) and of the recurrent-side ones (dgh: r,
 * z and W_hn h + b_hn, which is dn * r); dh becomes the direct part of
 * dh_{t-1} (dh * z), to which the recurrent GEMM adds dgh W_hh. */
__kernel void gru_step_grad(__global const float *gates, int g_off, int g_ld, __global const float *hp, int hp_off,
                            int hp_ld, __global const float *dy, int dy_off, int dy_ld, __global float *dh, int dh_off,
                            __global float *dgi, int dgi_off, __global float *dgh, int dgh_off, int dg_ld,
                            __global const int *len, int len_off, int has_len, int t, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    __global float *gi = dgi + dgi_off + n * dg_ld, *gh = dgh + dgh_off + n * dg_ld;
    if (!step_valid(len, len_off, has_len, n, t)) {
        gi[j] = gi[H + j] = gi[2 * H + j] = 0.0f;
        gh[j] = gh[H + j] = gh[2 * H + j] = 0.0f;
        return;
    }
    __global const float *gr = gates + g_off + n * g_ld;
    float rg = gr[j], zg = gr[H + j], ng = gr[2 * H + j], hl = gr[3 * H + j];
    float h_prev = hp[hp_off + n * hp_ld + j];
    float dht = dy[dy_off + n * dy_ld + j] + dh[dh_off + id];
    float dn = dht * (1.0f - zg) * (1.0f - ng * ng);
    float dz = dht * (h_prev - ng) * zg * (1.0f - zg);
    float dr = dn * hl * rg * (1.0f - rg);
    gi[j] = gh[j] = dr;
    gi[H + j] = gh[H + j] = dz;
    gi[2 * H + j] = dn;
    gh[2 * H + j] = dn * rg;
    dh[dh_off + id] = dht * zg;
}

/* out[c] = sum over rows of src[row, c]: the bias gradients, summed over
 * all steps and sequences (T * N rows). One work item per column, with
 * compensated (Kahan) summation so that long sequences keep the error of
 * a pairwise sum (the compiler may not reassociate it: no fast math). */
__kernel void rnn_colsum(__global float *out, int out_off, __global const float *src, int src_off, int ld, int rows,
                         int cols)
{
    int c = get_global_id(0);
    if (c >= cols) return;
    float s = 0.0f, comp = 0.0f;
    for (int r = 0; r < rows; r++) {
        float v = src[src_off + r * ld + c] - comp;
        float u = s + v;
        comp = (u - s) - v;
        s = u;
    }
    out[out_off + c] = s;
}
