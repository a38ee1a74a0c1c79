/* Kernel bodies, written once for a floating type REAL; kernels.c includes this file for float and double,
 * with FN(name) giving each instantiation its name (lif_scan_f32, lif_scan_f64, ...).
 *
 * Every REAL expression below performs the same IEEE operations, in the same order, as the torch step
 * functions in spikerl/neurons (one rounding per torch op; Python float parameters are first rounded to REAL,
 * as torch does for a scalar operand). The library is compiled with -ffp-contract=off and without
 * -ffast-math, so the compiler may not fuse or reorder them: results are bit-identical to the torch path.
 */

/* Shared LIF phases: leak -> integrate -> clamp. Returns the membrane before firing. */
static inline REAL FN(charge)(REAL v, REAL current, REAL refr, int leaky, REAL v_rest, REAL decay,
                              int refractory, int has_v_min, REAL v_min) {
    if (leaky)
        v = (v - v_rest) * decay + v_rest;                                 /* phases.leak */
    if (refractory)
        v = v + current * (REAL)(refr <= 0);                               /* phases.integrate */
    else
        v = v + current;
    if (has_v_min)                                                         /* phases.clamp_min (NaN kept) */
        v = v < v_min ? v_min : v;
    return v;
}

/* phases.count_refractory: restart the countdown at a spike, else count down to 0. */
static inline REAL FN(count_down)(REAL refr, int spiked, REAL steps) {
    REAL down = refr - 1;
    down = down < 0 ? 0 : down;
    return spiked ? steps : down;
}

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

/* Event-driven propagation of a spike train through dense weights:
 * out[r, j] = sum over the active inputs i of row r (ascending) of w[i, j], starting from 0.
 * The active inputs of row r are inputs[row_start[r] .. row_start[r+1]) (from spike_events);
 * w: [n_in, n_out]; out: [rows, n_out]. Whole weight rows are streamed (faster here than column blocks). */
void FN(propagate)(int64_t rows, int64_t n_out, const int64_t *row_start, const int64_t *inputs,
                   const REAL *restrict w, REAL *restrict out) {
    for (int64_t r = 0; r < rows; r++) {
        REAL *restrict o = out + r * n_out;
        for (int64_t j = 0; j < n_out; j++)
            o[j] = 0;
        for (int64_t k = row_start[r]; k < row_start[r + 1]; k++) {
            const REAL *restrict wi = w + inputs[k] * n_out;
            for (int64_t j = 0; j < n_out; j++)
                o[j] = o[j] + wi[j];
        }
    }
}
