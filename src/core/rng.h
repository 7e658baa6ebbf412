/* Deterministic random numbers. Each (seed, stream) pair is an independent
 * generator, so parallel code seeds one per tensor/chunk and produces the
 * same bytes whatever the thread count. xoshiro256** seeded by splitmix64. */
#ifndef SS_CORE_RNG_H
#define SS_CORE_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct ss_rng { uint64_t s[4]; } ss_rng;

static inline uint64_t ss_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void ss_rng_seed(ss_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++) r->s[i] = ss_splitmix64(&x);
}

static inline uint64_t ss_rng_u64(ss_rng *r) {
    uint64_t *s = r->s, res = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return res;
}

/* Uniform in [0, 1). */
static inline float ss_rng_uniform(ss_rng *r) { return (float)(ss_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

/* Standard normal (Box-Muller; exact distribution, for small tensors and tests). */
static inline float ss_rng_normal(ss_rng *r) {
    double u1 = ((double)(ss_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(ss_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Approximately normal, unit variance, from one 64-bit draw: the sum of four
 * 16-bit uniforms (Irwin-Hall), bounded at +-3.46 sigma. Several times
 * cheaper than Box-Muller; used to synthesise billions of weights quickly. */
static inline float ss_rng_normal_fast(ss_rng *r) {
    uint64_t v = ss_rng_u64(r);
    uint32_t s = (uint32_t)(v & 0xffff) + (uint32_t)((v >> 16) & 0xffff) + (uint32_t)((v >> 32) & 0xffff) +
                 (uint32_t)(v >> 48);
    /* mean 4 * 32767.5, variance 4 * (65536^2 - 1) / 12 */
    return ((float)s - 131070.0f) * (1.0f / 37837.23f);
}

#endif
