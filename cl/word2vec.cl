/* word2vec training with negative sampling (src/nn/word2vec.c drives it).
 *
 * One work-group trains whole chunks of the subsampled corpus, word after
 * word as a thread of the original word2vec tool does, and updates the
 * shared syn0 (input) and syn1neg (output) vectors without locks. Chunk k
 * of a launch holds the word ids tokens[off[k] .. off[k+1]), sentences
 * ended by -1, and trains with learning rate alpha[k] and the LCG seeded
 * from seed[2k], seed[2k+1] (windows and negatives, as gensim draws them).
 *
 * Specialisation: LANES work items per group split dim (1 on CPUs, where
 * the loops over dim run on VEC-wide explicit vectors, which needs no
 * fast-math to vectorise the dot products; 32 or so on GPUs, coalesced);
 * CBOW 1 averages the context (cbow_mean=1), else skip-gram. Every lane
 * computes the same random numbers, so control flow is uniform in a group
 * and the dot products are reduced in local memory between barriers. */

#if VEC == 16
typedef float16 floatv;
#define VLOAD vload16
#define VSTORE vstore16
#define HSUM(v) (hsum8((v).lo) + hsum8((v).hi))
#elif VEC == 8
typedef float8 floatv;
#define VLOAD vload8
#define VSTORE vstore8
#define HSUM(v) hsum8(v)
#elif VEC == 1
typedef float floatv;
#define VLOAD(i, p) ((p)[i])
#define VSTORE(v, i, p) ((p)[i] = (v))
#define HSUM(v) (v)
#else
#error "VEC must be 1, 8 or 16"
#endif

float hsum8(float8 v)
{
    float4 s = v.lo + v.hi;
    return (s.x + s.y) + (s.z + s.w);
}

/* What every function of a work-group needs. */
typedef struct w2v {
    __global float *syn0, *syn1neg;
    const __global uint *cum;
    const __global int *guide;
    const __global float *sigmoid;
    int guides, vocab, dim, dimv, lid, window, negative;
    __local float *neu1e, *neu1, *red;
} w2v;

/* The loops over dim: this lane's VEC-wide slices, then its tail elements. */
#define FOR_VEC(c) for (int c = m->lid * VEC; c + VEC <= m->dimv; c += LANES * VEC)
#define FOR_TAIL(c) for (int c = m->dimv + m->lid; c < m->dim; c += LANES)

/* <h, b> over dim (h a global row, or the local CBOW mean hl when h is
 * NULL), the same on every lane of the group. */
float dot_rows(const w2v *m, const __global float *h, const __local float *hl, const __global float *b)
{
    floatv acc = (floatv)(0.0f);
    float tail = 0.0f;
#define DOT(H)                                                 \
    {                                                          \
        FOR_VEC(c) acc += VLOAD(0, H + c) * VLOAD(0, b + c);   \
        FOR_TAIL(c) tail += H[c] * b[c];                       \
    }
    if (h) DOT(h) else DOT(hl)
    float f = HSUM(acc) + tail;
#if LANES > 1
    __local float *red = m->red;
    int lid = m->lid;
    red[lid] = f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LANES / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    f = red[0];
    barrier(CLK_LOCAL_MEM_FENCE);
#endif
    return f;
}

ulong lcg(ulong r) { return (r * 25214903917UL + 11UL) & 0xFFFFFFFFFFFFUL; }

/* First word whose cumulative weight exceeds x: word i with probability
 * (cum[i] - cum[i-1]) / cum[vocab-1]. guide[j] is the first word past
 * floor(j L / G) (L = cum[vocab-1], G = guides), which leaves a binary
 * search over a few words at most. */
int draw_negative(const w2v *m, ulong r)
{
    uint total = m->cum[m->vocab - 1];
    uint x = (uint)((r >> 16) % (ulong)total);
    uint j = (uint)(((ulong)x * (ulong)m->guides) / total);
    int lo = m->guide[j], hi = min(m->guide[j + 1], m->vocab - 1);
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (m->cum[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* The gradient scale of one prediction, as the original tool and gensim
 * compute it: the sigmoid from a table of 1000 values over (-6, 6) (the
 * host's exact values), outside it the clipped gradient. */
float grad_scale(const w2v *m, float f, float label, float alpha)
{
    if (f >= 6.0f) return (label - 1.0f) * alpha;
    if (f <= -6.0f) return label * alpha;
    /* The clamp keeps a NaN (a diverged run) inside the table. */
    int i = clamp((int)((f + 6.0f) * (1000.0f / 6.0f / 2.0f)), 0, 999);
    return (label - m->sigmoid[i]) * alpha;
}

/* In train_negative: neu1e += g out; out += g H. */
#define UPDATE(H)                                                   \
    {                                                               \
        FOR_VEC(c) {                                                \
            floatv o = VLOAD(0, out + c);                           \
            VSTORE(VLOAD(0, neu1e + c) + g * o, 0, neu1e + c);      \
            VSTORE(o + g * VLOAD(0, H + c), 0, out + c);            \
        }                                                           \
        FOR_TAIL(c) {                                               \
            float o = out[c];                                       \
            neu1e[c] += g * o;                                      \
            out[c] = o + g * H[c];                                  \
        }                                                           \
    }

/* Negative sampling for one input vector (a syn0 row h, or the local CBOW
 * mean hl when h is NULL) predicting `word`: accumulates the input's
 * gradient in neu1e (zeroed here) and updates syn1neg. Returns the LCG. */
ulong train_negative(const w2v *m, const __global float *h, const __local float *hl, int word, float alpha, ulong r)
{
    __local float *neu1e = m->neu1e;
    FOR_VEC(c) VSTORE((floatv)(0.0f), 0, neu1e + c);
    FOR_TAIL(c) neu1e[c] = 0.0f;
    for (int d = 0; d <= m->negative; d++) {
        int target = word;
        float label = 1.0f;
        if (d > 0) {
            r = lcg(r);
            target = draw_negative(m, r);
            if (target == word) continue;
            label = 0.0f;
        }
        __global float *out = m->syn1neg + (size_t)target * m->dim;
        float g = grad_scale(m, dot_rows(m, h, hl, out), label, alpha);
        if (h) UPDATE(h) else UPDATE(hl)
    }
    return r;
}

/* row (+)= v */
void add_local(const w2v *m, __global float *row, const __local float *v)
{
    FOR_VEC(c) VSTORE(VLOAD(0, row + c) + VLOAD(0, v + c), 0, row + c);
    FOR_TAIL(c) row[c] += v[c];
}

/* One sentence tokens[s .. e) of a chunk. */
ulong train_sentence(const w2v *m, const __global int *tokens, int s, int e, float alpha, ulong r)
{
    for (int p = s; p < e; p++) {
        int word = tokens[p];
        r = lcg(r);
        int b = (int)(r % (ulong)m->window);
        int lo = max(s, p - m->window + b), hi = min(e - 1, p + m->window - b);
#if CBOW
        __local float *neu1 = m->neu1;
        FOR_VEC(c) VSTORE((floatv)(0.0f), 0, neu1 + c);
        FOR_TAIL(c) neu1[c] = 0.0f;
        int cw = 0;
        for (int q = lo; q <= hi; q++) {
            if (q == p) continue;
            const __global float *in = m->syn0 + (size_t)tokens[q] * m->dim;
            FOR_VEC(c) VSTORE(VLOAD(0, neu1 + c) + VLOAD(0, in + c), 0, neu1 + c);
            FOR_TAIL(c) neu1[c] += in[c];
            cw++;
        }
        if (cw == 0) continue;
        float inv = 1.0f / (float)cw;
        FOR_VEC(c) VSTORE(VLOAD(0, neu1 + c) * inv, 0, neu1 + c);
        FOR_TAIL(c) neu1[c] *= inv;
        r = train_negative(m, 0, neu1, word, alpha, r);
        for (int q = lo; q <= hi; q++)
            if (q != p) add_local(m, m->syn0 + (size_t)tokens[q] * m->dim, m->neu1e);
#else
        for (int q = lo; q <= hi; q++) {
            if (q == p) continue;
            __global float *in = m->syn0 + (size_t)tokens[q] * m->dim;
            r = train_negative(m, in, 0, word, alpha, r);
            add_local(m, in, m->neu1e);
        }
#endif
    }
    return r;
}

/* Work-group g trains chunks g, g + groups, ... of this launch. local_buf
 * holds 2 dim floats (neu1e, neu1) and LANES reduction slots. */
__kernel void w2v_train(__global float *syn0, __global float *syn1neg, int dim, const __global int *tokens,
                        const __global int *off, const __global float *alpha, const __global uint *seed, int chunks,
                        const __global uint *cum, const __global int *guide, int guides, int vocab, int window,
                        int negative, const __global float *sigmoid, __local float *local_buf)
{
    w2v m = {syn0, syn1neg, cum, guide, sigmoid, guides, vocab, dim, dim - dim % VEC, get_local_id(0), window, negative,
             local_buf, local_buf + dim, local_buf + 2 * dim};
    for (int k = get_group_id(0); k < chunks; k += get_num_groups(0)) {
        ulong r = ((ulong)seed[2 * k + 1] << 32 | seed[2 * k]) & 0xFFFFFFFFFFFFUL;
        int s = off[k], end = off[k + 1];
        while (s < end) {
            int e = s;
            while (e < end && tokens[e] >= 0) e++;
            r = train_sentence(&m, tokens, s, e, alpha[k], r);
            s = e + 1;
        }
    }
}
