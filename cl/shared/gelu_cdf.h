/* Phi(x), the normal CDF of GELU (x Phi(x)), shared by cl/elementwise.cl
 * (the gelu op) and cl/gemm.cl (the GEMM epilogue the planner folds a gelu
 * into), so the two give the same values; cmake/embed_cl.cmake pastes this
 * file where a kernel source includes it.
 *
 * Phi(x) = 0.5 erfc(-x / sqrt(2)), with erfc from the Chebyshev fit of
 * Numerical Recipes' erfcc (fractional error < 1.2e-7 for every argument,
 * so the x << 0 tail keeps its relative accuracy): one exp, no erf, which
 * PoCL runs about 7x slower than this (GELU was a third of MiniLM's time).
 * GELU_CDF(name, T) defines it for T = float or a float vector type. */
#define GELU_CDF(name, T)                                                                                          \
    T name(T x)                                                                                                    \
    {                                                                                                              \
        T z = fabs(x) * 0.7071067811865476f;                                                                       \
        T t = 1.0f / (1.0f + 0.5f * z);                                                                            \
        T p = fma(t, (T)(0.17087277f), (T)(-0.82215223f));                                                        \
        p = fma(t, p, (T)(1.48851587f));                                                                           \
        p = fma(t, p, (T)(-1.13520398f));                                                                          \
        p = fma(t, p, (T)(0.27886807f));                                                                           \
        p = fma(t, p, (T)(-0.18628806f));                                                                          \
        p = fma(t, p, (T)(0.09678418f));                                                                           \
        p = fma(t, p, (T)(0.37409196f));                                                                           \
        p = fma(t, p, (T)(1.00002368f));                                                                           \
        p = fma(t, p, (T)(-1.26551223f));                                                                          \
        T h = 0.5f * t * exp(p - z * z);                                                                           \
        return x >= 0.0f ? 1.0f - h : h;                                                                           \
    }

GELU_CDF(gelu_cdf, float)
