/* The fused scan of the adaptive-threshold LIF of spikerl/neurons/adaptive_lif.py, in C.
 * Included by spikerl/kernels/kernels.c for REAL = float and double after lif_scan.h (LOCAL_PARAMS) and
 * phases.h; restates adaptive_lif_step with the same IEEE operations (tests/kernels/test_kernels_scan.py).
 */

/* T steps of adaptive_lif_step for a batch of B samples of n neurons each; theta [n] is shared by the batch.
 * current: [T, B, n]; v, refr: [B, n] and theta: [n], updated in place; spikes: [T, B, n];
 * rec_v, rec_refr, rec_theta: [T, B, n] or NULL. */
void FN(adaptive_lif_scan)(int64_t steps, int64_t batch, int64_t n, const REAL *current, REAL *v, REAL *refr,
                           REAL *theta, uint8_t *spikes, REAL *rec_v, REAL *rec_refr, REAL *rec_theta,
                           const struct lif_params *p, const struct adaptive_params *a) {
    LOCAL_PARAMS(p);
    for (int64_t t = 0; t < steps; t++) {
        for (int64_t b = 0; b < batch; b++) {
            const int64_t off = (t * batch + b) * n;
            REAL *vb = v + b * n, *rb = refr + b * n;
            uint8_t *s = spikes + off;
            int64_t winner = -1;
            REAL best = 0;
            for (int64_t i = 0; i < n; i++) {
                REAL x = FN(charge)(vb[i], current[off + i], rb[i], leaky, v_rest, decay, refractory, has_v_min,
                                    v_min);
                REAL threshold = v_thresh + theta[i];
                s[i] = x >= threshold;
                vb[i] = x;
                if (a->one_spike && s[i]) {
                    /* keep_largest: argmax of the overshoot over spiking neurons; first index wins ties,
                     * NaN counts as the largest (torch.argmax). */
                    REAL o = x - threshold;
                    if (winner < 0 || o > best || (isnan(o) && !isnan(best))) {
                        winner = i;
                        best = o;
                    }
                }
            }
            for (int64_t i = 0; i < n; i++) {
                if (a->one_spike)
                    s[i] = (uint8_t)(i == winner);
                if (s[i])
                    vb[i] = v_reset;
                if (refractory)
                    rb[i] = FN(count_down)(rb[i], s[i], refractory_steps);
            }
        }
        if (a->adapt) {
            /* theta * exp(-dt/tau_theta) + theta_plus * (spike count over the batch) */
            for (int64_t i = 0; i < n; i++) {
                int64_t count = 0;
                for (int64_t b = 0; b < batch; b++)
                    count += spikes[(t * batch + b) * n + i];
                theta[i] = theta[i] * (REAL)a->theta_decay + (REAL)a->theta_plus * (REAL)count;
            }
        }
        for (int64_t b = 0; b < batch; b++) {
            const int64_t off = (t * batch + b) * n;
            if (rec_v)
                memcpy(rec_v + off, v + b * n, (size_t)n * sizeof(REAL));
            if (rec_refr)
                memcpy(rec_refr + off, refr + b * n, (size_t)n * sizeof(REAL));
            if (rec_theta)
                memcpy(rec_theta + off, theta, (size_t)n * sizeof(REAL));
        }
    }
}
