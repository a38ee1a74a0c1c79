/* The fused scan of the LIF model of spikerl/neurons/lif.py (value reset; IF is tau = inf, i.e. no leak), in C.
 * Included by spikerl/kernels/kernels.c for REAL = float and double after phases.h; each line restates a phase
 * of lif_step (named in its comment) with the same IEEE operations, so the scan is bit-identical to the step
 * loop (tests/kernels/test_kernels_scan.py compares them).
 */

/* The parameters as REAL locals (rounded as torch rounds a Python float operand), so that the compiler
 * keeps them in registers and can vectorise the loops over neurons. */
#define LOCAL_PARAMS(p)                                                                               \
    const int leaky = (p)->leaky, refractory = (p)->refractory_steps > 0, has_v_min = (p)->has_v_min;    \
    const REAL v_rest = (REAL)(p)->v_rest, decay = (REAL)(p)->decay, v_min = (REAL)(p)->v_min;           \
    const REAL v_thresh = (REAL)(p)->v_thresh, v_reset = (REAL)(p)->v_reset;                             \
    const REAL refractory_steps = (REAL)(p)->refractory_steps

/* T steps of lif_step for n = B * prod(shape) neurons.
 * current: [T, n]; v, refr: [n], updated in place (the caller passes copies); spikes: [T, n] (0/1 bytes);
 * rec_v, rec_refr: [T, n] or NULL (the state after each step). */
void FN(lif_scan)(int64_t steps, int64_t n, const REAL *restrict current, REAL *restrict v,
                  REAL *restrict refr, uint8_t *restrict spikes, REAL *rec_v, REAL *rec_refr,
                  const struct lif_params *p) {
    LOCAL_PARAMS(p);
    for (int64_t t = 0; t < steps; t++) {
        const REAL *restrict cur = current + t * n;
        uint8_t *restrict s = spikes + t * n;
        for (int64_t i = 0; i < n; i++) {
            REAL x = FN(charge)(v[i], cur[i], refr[i], leaky, v_rest, decay, refractory, has_v_min, v_min);
            int spiked = x >= v_thresh;                                    /* phases.fire */
            v[i] = spiked ? v_reset : x;                                   /* phases.reset */
            if (refractory)
                refr[i] = FN(count_down)(refr[i], spiked, refractory_steps);
            s[i] = (uint8_t)spiked;
        }
        if (rec_v)
            memcpy(rec_v + t * n, v, (size_t)n * sizeof(REAL));
        if (rec_refr)
            memcpy(rec_refr + t * n, refr, (size_t)n * sizeof(REAL));
    }
}
