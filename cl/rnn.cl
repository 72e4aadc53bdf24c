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

/* Whether step t is inside sequence n. Branch-free (the lengths buffer is
 * always bound; without lengths its first element is read and ignored), as
 * is everything below past the bounds check: PoCL vectorises a kernel
 * across work items only when its body is straight-line code, which made
 * these kernels several times faster on CPUs. Rows past a sequence's end
 * compute on valid data (their projections and states exist) and select. */
int step_valid(__global const int *len, int len_off, int has_len, int n, int t)
{
    int l = len[has_len ? len_off + n : 0];
    return !has_len | (t < l);
}

/* dst rows (ld) = src [N, H] (ld H), or zeros when !has_src: the initial
 * state (h0, c0) of a direction, or the initial state gradient carries. */
__kernel void rnn_init(__global float *dst, int dst_off, int dst_ld, __global const float *src, int src_off,
                       int has_src, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    float v = src[has_src ? src_off + n * H + j : 0];
    dst[dst_off + n * dst_ld + j] = has_src ? v : 0.0f;
}

/* One LSTM step. On entry the gate rows hold the input projection x W_ih^T
 * of this step (one GEMM for all steps wrote them); r holds h W_hh^T. The
 * kernel replaces the projection with the activated gates i, f, g, o (saved
 * for the backward pass; zeros past a sequence's end), and writes the new
 * state to the next step's h_prev / c_prev rows, or to h_n / c_n after the
 * last step. */
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
    int valid = step_valid(len, len_off, has_len, n, t);
    __global float *gr = gates + g_off + n * g_ld;
    __global const float *rr = r + r_off + n * 4 * H;
    float h_prev = hp[hp_off + n * hp_ld + j], c_prev = cp[cp_off + n * cp_ld + j];
    float i = sigm(gr[j] + rr[j] + bih[bih_off + j] + bhh[bhh_off + j]);
    float f = sigm(gr[H + j] + rr[H + j] + bih[bih_off + H + j] + bhh[bhh_off + H + j]);
    float g = tanh(gr[2 * H + j] + rr[2 * H + j] + bih[bih_off + 2 * H + j] + bhh[bhh_off + 2 * H + j]);
    float o = sigm(gr[3 * H + j] + rr[3 * H + j] + bih[bih_off + 3 * H + j] + bhh[bhh_off + 3 * H + j]);
    float c = f * c_prev + i * g;
    float h = o * tanh(c);
    gr[j] = valid ? i : 0.0f;
    gr[H + j] = valid ? f : 0.0f;
    gr[2 * H + j] = valid ? g : 0.0f;
    gr[3 * H + j] = valid ? o : 0.0f;
    hn[hn_off + n * hn_ld + j] = valid ? h : h_prev;
    cn[cn_off + n * cn_ld + j] = valid ? c : c_prev;
    y[y_off + n * y_ld + j] = valid ? h : 0.0f;
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
    int valid = step_valid(len, len_off, has_len, n, t);
    __global float *gr = gates + g_off + n * g_ld;
    __global const float *rr = r + r_off + n * 3 * H;
    float h_prev = hp[hp_off + n * hp_ld + j];
    float rg = sigm(gr[j] + rr[j] + bih[bih_off + j] + bhh[bhh_off + j]);
    float zg = sigm(gr[H + j] + rr[H + j] + bih[bih_off + H + j] + bhh[bhh_off + H + j]);
    float hl = rr[2 * H + j] + bhh[bhh_off + 2 * H + j];
    float ng = tanh(gr[2 * H + j] + bih[bih_off + 2 * H + j] + rg * hl);
    float h = (1.0f - zg) * ng + zg * h_prev;
    gr[j] = valid ? rg : 0.0f;
    gr[H + j] = valid ? zg : 0.0f;
    gr[2 * H + j] = valid ? ng : 0.0f;
    gr[3 * H + j] = valid ? hl : 0.0f;
    hn[hn_off + n * hn_ld + j] = valid ? h : h_prev;
    y[y_off + n * y_ld + j] = valid ? h : 0.0f;
}

/* One LSTM step backward. dh (carry, [N, H]) holds the gradient reaching
 * h_t through the recurrence (h_n's gradient before the first step); dc
 * the same for c_t. Writes the pre-activation gate gradients of the step
 * and leaves in dc the gradient of c_{t-1}; dh is zeroed on valid rows so
 * that the recurrent GEMM that follows (beta = 1) leaves dh_{t-1} there.
 * Rows past the sequence's length get zero gate gradients and keep both
 * carries: the state passed through those steps unchanged. */
__kernel void lstm_step_grad(__global const float *gates, int g_off, int g_ld, __global const float *cp, int cp_off,
                             int cp_ld, __global const float *dy, int dy_off, int dy_ld, __global float *dh,
                             int dh_off, __global float *dc, int dc_off, __global float *dg, int dg_off, int dg_ld,
                             __global const int *len, int len_off, int has_len, int t, int N, int H)
{
    int id = get_global_id(0);
    if (id >= N * H) return;
    int n = id / H, j = id - n * H;
    int valid = step_valid(len, len_off, has_len, n, t);
    __global float *dgr = dg + dg_off + n * dg_ld;
    __global const float *gr = gates + g_off + n * g_ld;
    float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j];
    float c_prev = cp[cp_off + n * cp_ld + j];
    float tc = tanh(f * c_prev + i * g);
    float dh_in = dh[dh_off + id], dc_in = dc[dc_off + id];
    float dht = dy[dy_off + n * dy_ld + j] + dh_in;
    float dct = dc_in + dht * o * (1.0f - tc * tc);
    dgr[j] = valid ? dct * g * i * (1.0f - i) : 0.0f;
    dgr[H + j] = valid ? dct * c_prev * f * (1.0f - f) : 0.0f;
    dgr[2 * H + j] = valid ? dct * i * (1.0f - g * g) : 0.0f;
    dgr[3 * H + j] = valid ? dht * tc * o * (1.0f - o) : 0.0f;
    dc[dc_off + id] = valid ? dct * f : dc_in;
    dh[dh_off + id] = valid ? 0.0f : dh_in;
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
    int valid = step_valid(len, len_off, has_len, n, t);
    __global float *gi = dgi + dgi_off + n * dg_ld, *gh = dgh + dgh_off + n * dg_ld;
    __global const float *gr = gates + g_off + n * g_ld;
    float rg = gr[j], zg = gr[H + j], ng = gr[2 * H + j], hl = gr[3 * H + j];
    float h_prev = hp[hp_off + n * hp_ld + j];
    float dh_in = dh[dh_off + id];
    float dht = dy[dy_off + n * dy_ld + j] + dh_in;
    float dn = valid ? dht * (1.0f - zg) * (1.0f - ng * ng) : 0.0f;
    float dz = valid ? dht * (h_prev - ng) * zg * (1.0f - zg) : 0.0f;
    float dr = dn * hl * rg * (1.0f - rg);
    gi[j] = dr;
    gh[j] = dr;
    gi[H + j] = dz;
    gh[H + j] = dz;
    gi[2 * H + j] = dn;
    gh[2 * H + j] = dn * rg;
    dh[dh_off + id] = valid ? dht * zg : dh_in;
}

/* dst [cols, rows] = src [rows, cols]^T: the weights, transposed once per
 * run, and the gate gradients of all steps, so that every product is a
 * plain A * B (the form GEMM engines run fastest, with no transposing
 * helper kernels). One work item per 8 x 8 block: eight rows of eight
 * consecutive elements are read and written as eight columns of eight
 * consecutive elements, so both sides move whole cache lines; blocks on
 * the matrix's edges go element by element. */
__kernel void rnn_transpose(__global float *dst, int dst_off, __global const float *src, int src_off, int rows,
                            int cols)
{
    int id = get_global_id(0);
    int bc = (cols + 7) / 8, br = (rows + 7) / 8;
    if (id >= br * bc) return;
    int r0 = id / bc * 8, c0 = (id - id / bc * bc) * 8;
    if (r0 + 8 <= rows && c0 + 8 <= cols) {
        float8 v0 = vload8(0, src + src_off + (r0 + 0) * cols + c0);
        float8 v1 = vload8(0, src + src_off + (r0 + 1) * cols + c0);
        float8 v2 = vload8(0, src + src_off + (r0 + 2) * cols + c0);
        float8 v3 = vload8(0, src + src_off + (r0 + 3) * cols + c0);
        float8 v4 = vload8(0, src + src_off + (r0 + 4) * cols + c0);
        float8 v5 = vload8(0, src + src_off + (r0 + 5) * cols + c0);
        float8 v6 = vload8(0, src + src_off + (r0 + 6) * cols + c0);
        float8 v7 = vload8(0, src + src_off + (r0 + 7) * cols + c0);
        __global float *d = dst + dst_off + c0 * rows + r0;
        vstore8((float8)(v0.s0, v1.s0, v2.s0, v3.s0, v4.s0, v5.s0, v6.s0, v7.s0), 0, d);
        vstore8((float8)(v0.s1, v1.s1, v2.s1, v3.s1, v4.s1, v5.s1, v6.s1, v7.s1), 0, d + rows);
        vstore8((float8)(v0.s2, v1.s2, v2.s2, v3.s2, v4.s2, v5.s2, v6.s2, v7.s2), 0, d + 2 * rows);
        vstore8((float8)(v0.s3, v1.s3, v2.s3, v3.s3, v4.s3, v5.s3, v6.s3, v7.s3), 0, d + 3 * rows);
        vstore8((float8)(v0.s4, v1.s4, v2.s4, v3.s4, v4.s4, v5.s4, v6.s4, v7.s4), 0, d + 4 * rows);
        vstore8((float8)(v0.s5, v1.s5, v2.s5, v3.s5, v4.s5, v5.s5, v6.s5, v7.s5), 0, d + 5 * rows);
        vstore8((float8)(v0.s6, v1.s6, v2.s6, v3.s6, v4.s6, v5.s6, v6.s6, v7.s6), 0, d + 6 * rows);
        vstore8((float8)(v0.s7, v1.s7, v2.s7, v3.s7, v4.s7, v5.s7, v6.s7, v7.s7), 0, d + 7 * rows);
    } else {
        for (int c = c0; c < c0 + 8 && c < cols; c++)
            for (int r = r0; r < r0 + 8 && r < rows; r++) dst[dst_off + c * rows + r] = src[src_off + r * cols + c];
    }
}

/* dst[0 .. n) = value: the ones vector that turns the bias gradients into
 * GEMMs (db = 1^T dG). */
__kernel void rnn_fill(__global float *dst, int dst_off, int n, float value)
{
    int id = get_global_id(0);
    if (id >= n) return;
    dst[dst_off + id] = value;
}
