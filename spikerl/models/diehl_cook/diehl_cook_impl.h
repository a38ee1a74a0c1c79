/* Body of the fused Diehl & Cook online presentation for a floating type REAL (see diehl_cook.c). */

static inline REAL FN(dc_count_down)(REAL refr, int spiked, REAL steps) {
    REAL down = refr - 1;
    down = down < 0 ? 0 : down;
    return spiked ? steps : down;
}

static inline REAL FN(dc_clamp)(REAL w, REAL lo, REAL hi) {
    w = w < lo ? lo : w;
    return w > hi ? hi : w;
}

/* The recurrent pair (Ae, Ai) of one sample: membranes, refractory counts, and the spikes of the last step,
 * ascending: Ae's in e_prev[0 .. n_e), Ai's in i_prev[0 .. n_i). */
struct FN(dc_pair) {
    REAL *v_e, *r_e, *v_i, *r_i;
    int64_t *e_prev, *i_prev;
    int64_t n_e, n_i;
};

/* Reset state: membranes at rest, not refractory, no spikes. */
static inline void FN(dc_pair_reset)(struct FN(dc_pair) *s, int64_t n, const struct dc_params *p) {
    for (int64_t j = 0; j < n; j++) {
        s->v_e[j] = (REAL)p->exc_v_rest;
        s->r_e[j] = 0;
        s->v_i[j] = (REAL)p->inh_v_rest;
        s->r_i[j] = 0;
    }
    s->n_e = s->n_i = 0;
}

/* One step of the pair in the network's update order (every connection carries the spikes of the step before):
 * Ae takes the input current cur[j] plus the inhibition of Ai's last spikes, leaks, integrates (not while
 * refractory) and fires at v >= v_thresh + theta[j]; Ai takes the excitation of Ae's last spikes; then Ae keeps
 * only the neuron with the largest overshoot (one_spike), resets the neurons that fired and counts their
 * refractory steps. Afterwards e_prev, i_prev list this step's spikes. cur is used as scratch. */
static inline void FN(dc_pair_step)(struct FN(dc_pair) *s, int64_t n, REAL *restrict cur,
                                    const REAL *restrict w_ei, const REAL *restrict w_ie,
                                    const REAL *restrict theta, const struct dc_params *p) {
    const REAL e_rest = (REAL)p->exc_v_rest, e_reset = (REAL)p->exc_v_reset, e_thresh = (REAL)p->exc_v_thresh;
    const REAL e_decay = (REAL)p->exc_decay, e_refr = (REAL)p->exc_refractory;
    const REAL i_rest = (REAL)p->inh_v_rest, i_reset = (REAL)p->inh_v_reset, i_thresh = (REAL)p->inh_v_thresh;
    const REAL i_decay = (REAL)p->inh_decay, i_refr = (REAL)p->inh_refractory;
    const int e_has_refr = p->exc_refractory > 0, i_has_refr = p->inh_refractory > 0;
    REAL *restrict v_e = s->v_e, *restrict r_e = s->r_e, *restrict v_i = s->v_i, *restrict r_i = s->r_i;
    int64_t *restrict e_prev = s->e_prev, *restrict i_prev = s->i_prev;
    /* Ae */
    int64_t winner = -1;
    REAL best = 0;
    for (int64_t j = 0; j < n; j++) {
        REAL c = cur[j];
        if (s->n_i > 0) {
            REAL inh = 0;
            for (int64_t k = 0; k < s->n_i; k++)
                inh = inh + w_ie[i_prev[k] * n + j];
            c = inh + c;
        }
        REAL v = (v_e[j] - e_rest) * e_decay + e_rest;
        v = e_has_refr ? v + c * (REAL)(r_e[j] <= 0) : v + c;
        REAL threshold = e_thresh + theta[j];
        int fired = v >= threshold;
        v_e[j] = v;
        cur[j] = (REAL)fired;     /* this step's excitatory spikes before one_spike */
        if (p->one_spike && fired) {
            REAL o = v - threshold;
            if (winner < 0 || o > best || (isnan(o) && !isnan(best))) {
                winner = j;
                best = o;
            }
        }
    }
    /* Ai (reads Ae's spikes of the step before, still in e_prev) */
    int64_t n_i = 0;
    for (int64_t j = 0; j < n; j++) {
        REAL c = 0;
        for (int64_t k = 0; k < s->n_e; k++)
            c = c + w_ei[e_prev[k] * n + j];
        REAL v = (v_i[j] - i_rest) * i_decay + i_rest;
        v = i_has_refr ? v + c * (REAL)(r_i[j] <= 0) : v + c;
        int fired = v >= i_thresh;
        v_i[j] = fired ? i_reset : v;
        if (i_has_refr)
            r_i[j] = FN(dc_count_down)(r_i[j], fired, i_refr);
        if (fired)
            i_prev[n_i++] = j;
    }
    s->n_i = n_i;
    /* Ae: one spike, reset, refractory count */
    int64_t n_e = 0;
    for (int64_t j = 0; j < n; j++) {
        const int fired = p->one_spike ? j == winner : cur[j] != 0;
        if (fired) {
            v_e[j] = e_reset;
            e_prev[n_e++] = j;
        }
        if (e_has_refr)
            r_e[j] = FN(dc_count_down)(r_e[j], fired, e_refr);
    }
    s->n_e = n_e;
}

/* The input current into Ae [n]: the sum of the weight rows w[i * n ..] of the inputs i = inputs[k0 .. k1)
 * (those that spiked the step before; k0 == k1: none). */
static inline void FN(dc_input_current)(REAL *restrict cur, int64_t n, const REAL *restrict w,
                                        const int64_t *restrict inputs, int64_t k0, int64_t k1) {
    for (int64_t j = 0; j < n; j++)
        cur[j] = 0;
    for (int64_t k = k0; k < k1; k++) {
        const REAL *restrict row = w + inputs[k] * n;
        for (int64_t j = 0; j < n; j++)
            cur[j] = cur[j] + row[j];
    }
}

/* steps: T; n_in: inputs; n: excitatory = inhibitory neurons.
 * row_start [T + 1], inputs [...]: the active inputs of step t, ascending, are inputs[row_start[t] .. row_start[t+1]).
 * w [n_in, n]: plastic weights, updated in place; w_ei, w_ie [n, n]: fixed weights Ae->Ai and Ai->Ae.
 * theta [n]: adaptive thresholds, updated in place; spikes [T, n]: excitatory spikes (0/1 bytes), written.
 * work: 2 * n_in + 7 * n REALs and iwork: 2 * n int64 of scratch space. Returns 0. */
int64_t FN(dc_online)(int64_t steps, int64_t n_in, int64_t n, const int64_t *row_start, const int64_t *inputs,
                      REAL *restrict w, const REAL *restrict w_ei, const REAL *restrict w_ie, REAL *restrict theta,
                      uint8_t *restrict spikes, REAL *restrict work, int64_t *restrict iwork,
                      const struct dc_params *p) {
    const REAL th_plus = (REAL)p->theta_plus, th_decay = (REAL)p->theta_decay;
    const REAL nu_pre = (REAL)p->nu_pre, nu_post = (REAL)p->nu_post;
    const REAL pre_decay = (REAL)p->pre_decay, post_decay = (REAL)p->post_decay;
    const REAL pre_scale = (REAL)p->pre_scale, post_scale = (REAL)p->post_scale;
    const REAL wmin = (REAL)p->wmin, wmax = (REAL)p->wmax;

    REAL *x_pre = work, *pre_s = work + n_in;                 /* pre trace, pre spikes of this step (0/1) */
    REAL *x_post = work + 2 * n_in, *cur_e = x_post + n, *post_s = cur_e + n;
    REAL *pair_work = post_s + n;
    struct FN(dc_pair) pair = {pair_work, pair_work + n, pair_work + 2 * n, pair_work + 3 * n, iwork, iwork + n, 0, 0};
    FN(dc_pair_reset)(&pair, n, p);
    for (int64_t i = 0; i < n_in; i++) {
        x_pre[i] = 0;
        pre_s[i] = 0;
    }
    for (int64_t j = 0; j < n; j++) {
        x_post[j] = 0;
        post_s[j] = 0;
    }

    for (int64_t t = 0; t < steps; t++) {
        /* 1. input current X(t-1) -> Ae */
        FN(dc_input_current)(cur_e, n, w, inputs, t > 0 ? row_start[t - 1] : 0, t > 0 ? row_start[t] : 0);

        /* 2. the pair (Ae, Ai), then the thresholds rise at Ae's spikes */
        FN(dc_pair_step)(&pair, n, cur_e, w_ei, w_ie, theta, p);
        uint8_t *restrict s = spikes + t * n;
        for (int64_t j = 0; j < n; j++)
            s[j] = 0;
        for (int64_t m = 0; m < pair.n_e; m++)
            s[pair.e_prev[m]] = 1;
        for (int64_t j = 0; j < n; j++)
            post_s[j] = (REAL)s[j];
        if (p->adapt)
            for (int64_t j = 0; j < n; j++)
                theta[j] = theta[j] * th_decay + th_plus * post_s[j];

        /* 4. STDP traces (they include this step's spikes) */
        const int64_t k0 = row_start[t], k1 = row_start[t + 1];
        for (int64_t k = k0; k < k1; k++)
            pre_s[inputs[k]] = 1;
        for (int64_t i = 0; i < n_in; i++)
            x_pre[i] = p->pre_nearest ? (pre_s[i] != 0 ? pre_scale : x_pre[i] * pre_decay)
                                      : x_pre[i] * pre_decay + pre_s[i] * pre_scale;
        for (int64_t j = 0; j < n; j++)
            x_post[j] = p->post_nearest ? (post_s[j] != 0 ? post_scale : x_post[j] * post_decay)
                                        : x_post[j] * post_decay + post_s[j] * post_scale;

        /* 5. dw = nu_post x_pre (x) s_post - nu_pre s_pre (x) x_post; w = clamp(w + dw). Elsewhere dw = 0. */
        for (int64_t k = k0; k < k1; k++) {
            const int64_t i = inputs[k];
            REAL *restrict row = w + i * n;
            for (int64_t j = 0; j < n; j++) {
                REAL dw = nu_post * (x_pre[i] * post_s[j]) - nu_pre * (pre_s[i] * x_post[j]);
                row[j] = FN(dc_clamp)(row[j] + dw, wmin, wmax);
            }
        }
        for (int64_t m = 0; m < pair.n_e; m++) {
            const int64_t j = pair.e_prev[m];
            for (int64_t i = 0; i < n_in; i++) {
                if (pre_s[i] != 0)
                    continue; /* done above */
                REAL dw = nu_post * (x_pre[i] * post_s[j]) - nu_pre * (pre_s[i] * x_post[j]);
                w[i * n + j] = FN(dc_clamp)(w[i * n + j] + dw, wmin, wmax);
            }
        }
        for (int64_t k = k0; k < k1; k++)
            pre_s[inputs[k]] = 0;
    }
    return 0;
}

/* Sum over a presentation (and the batch) of the PostPre updates with frozen weights, from the spike events.
 * pre events (t, b, a) and post events (t, b, j) are each sorted by step t; a is a packed input slot of
 * sample b, index [B, A] maps it to an input neuron. At each step both traces first take the step's spikes
 * (traces are evaluated lazily: x(t) = x(t0) d^(t - t0) after their last spike t0), then
 *   every pre spike (b, a) adds -nu_pre x_post[b, j] to dw[index[b, a], j] for each neuron j of sample b that
 *   has spiked so far (the others have x_post = 0), and
 *   every post spike (b, j) adds nu_post x_pre[b, a] to dw[index[b, a], j] for each slot a of sample b.
 * dw [n_in, n] is accumulated into. work: 2 * B * A + 2 * B * n + 2 * (T + 1) REALs; iwork: B * n + B int64.
 * Returns 0. */
int64_t FN(dc_stdp)(int64_t steps, int64_t batch, int64_t slots, int64_t n, int64_t n_pre, const int64_t *pre_t,
                    const int64_t *pre_b, const int64_t *pre_a, int64_t n_post, const int64_t *post_t,
                    const int64_t *post_b, const int64_t *post_j, const int64_t *index, REAL *restrict dw,
                    REAL *restrict work, int64_t *restrict iwork, const struct dc_params *p) {
    const REAL nu_pre = (REAL)p->nu_pre, nu_post = (REAL)p->nu_post;
    const double pre_decay = p->pre_decay, post_decay = p->post_decay;
    const REAL pre_scale = (REAL)p->pre_scale, post_scale = (REAL)p->post_scale;
    REAL *x_pre = work, *t_pre = work + batch * slots;               /* value at last spike, its step */
    REAL *x_post = work + 2 * batch * slots, *t_post = x_post + batch * n;
    int64_t *spiked = iwork, *n_spiked = iwork + batch * n;           /* neurons of b that have spiked */
    REAL *pre_pow = x_post + 2 * batch * n, *post_pow = pre_pow + steps + 1;   /* d^k, k = 0 .. T */
    for (int64_t k = 0; k <= steps; k++) {
        pre_pow[k] = (REAL)pow(pre_decay, (double)k);
        post_pow[k] = (REAL)pow(post_decay, (double)k);
    }
    for (int64_t i = 0; i < batch * slots; i++) {
        x_pre[i] = 0;
        t_pre[i] = 0;
    }
    for (int64_t i = 0; i < batch * n; i++) {
        x_post[i] = 0;
        t_post[i] = 0;
    }
    for (int64_t b = 0; b < batch; b++)
        n_spiked[b] = 0;
    int64_t kp = 0, kq = 0;
    while (kp < n_pre || kq < n_post) {
        const int64_t t = kq < n_post && (kp >= n_pre || post_t[kq] <= pre_t[kp]) ? post_t[kq] : pre_t[kp];
        int64_t p0 = kp, q0 = kq;
        /* the traces take this step's spikes */
        for (; kq < n_post && post_t[kq] == t; kq++) {
            const int64_t b = post_b[kq], j = post_j[kq], i = b * n + j;
            REAL before = x_post[i] * post_pow[t - (int64_t)t_post[i]];
            x_post[i] = p->post_nearest ? post_scale : before + post_scale;
            int known = 0;
            for (int64_t m = 0; m < n_spiked[b]; m++)
                known |= spiked[b * n + m] == j;
            if (!known)
                spiked[b * n + n_spiked[b]++] = j;
            t_post[i] = (REAL)t;
        }
        for (; kp < n_pre && pre_t[kp] == t; kp++) {
            const int64_t i = pre_b[kp] * slots + pre_a[kp];
            REAL before = x_pre[i] * pre_pow[t - (int64_t)t_pre[i]];
            x_pre[i] = p->pre_nearest ? pre_scale : before + pre_scale;
            t_pre[i] = (REAL)t;
        }
        /* depression at this step's pre spikes */
        for (int64_t k = p0; k < kp; k++) {
            const int64_t b = pre_b[k];
            REAL *restrict row = dw + index[b * slots + pre_a[k]] * n;
            for (int64_t m = 0; m < n_spiked[b]; m++) {
                const int64_t j = spiked[b * n + m], i = b * n + j;
                REAL x = x_post[i] * post_pow[t - (int64_t)t_post[i]];
                row[j] = row[j] - nu_pre * x;
            }
        }
        /* potentiation at this step's post spikes */
        for (int64_t k = q0; k < kq; k++) {
            const int64_t b = post_b[k], j = post_j[k];
            for (int64_t a = 0; a < slots; a++) {
                const int64_t i = b * slots + a;
                if (x_pre[i] == 0)
                    continue;
                REAL x = x_pre[i] * pre_pow[t - (int64_t)t_pre[i]];
                dw[index[i] * n + j] = dw[index[i] * n + j] + nu_post * x;
            }
        }
    }
    return 0;
}

/* A lazily evaluated trace (value x[i] at its last spike t0[i], x(t) = x[i] d^(t - t0[i]); t0[i] < 0: no spike
 * yet) takes a spike of unit i at step t; a unit's first spike also appends it to list[0 .. *n). */
static inline void FN(dc_trace_spike)(int64_t i, int64_t t, REAL *restrict x, int64_t *restrict t0,
                                      const REAL *restrict pow_d, REAL scale, int32_t nearest,
                                      int64_t *restrict list, int64_t *restrict n) {
    if (t0[i] < 0) {
        list[(*n)++] = i;
        x[i] = scale;
    } else {
        const REAL before = x[i] * pow_d[t - t0[i]];
        x[i] = nearest ? scale : before + scale;
    }
    t0[i] = t;
}

/* One presentation of samples [b0, b1) of a batch with frozen weights and thresholds, fused: the input trains,
 * the input current (weight rows of the inputs that spiked the step before), the recurrent pair (Ae, Ai) as
 * Network.run(learning=False) steps it, the spike counts and, when dw is given, the summed PostPre update as in dc_stdp.
 *
 * Input trains come either from ev_start/ev_input (given events: the inputs that spike at step t in sample b
 * are ev_input[ev_start[b * T + t] .. ev_start[b * T + t + 1]), ascending) or, when ev_start is NULL, are drawn
 * here: input i of sample b spikes in each step with probability prob[b, i], independently, sampled through
 * geometric inter-spike gaps (one random number per spike) from a generator seeded with seeds[b]; a bucket
 * per step holds the inputs whose next spike falls in it. A sample's result depends only on its seed, never
 * on how the batch is split between threads.
 *
 * counts [B, n] (int64): excitatory spikes per sample and neuron, written. spikes [T, B, n] (0/1 bytes) is
 * written when not NULL. in_counts [B, n_in] (int64) gets the input spikes per sample and input when not NULL.
 * dw [C, n_in, n]: when not NULL, sample b's update is added to chunk b / chunk.
 * work: 6 * n + 2 * n_in + 2 * (T + 1) REALs; iwork: T * n_in + 2 * T + 1 + 3 * n_in + 4 * n int64 (per thread).
 * Returns 0. */
int64_t FN(dc_batch)(int64_t steps, int64_t batch, int64_t n_in, int64_t n, const REAL *restrict prob,
                     const uint64_t *restrict seeds, const int64_t *restrict ev_start,
                     const int64_t *restrict ev_input, const REAL *restrict w, const REAL *restrict w_ei,
                     const REAL *restrict w_ie, const REAL *restrict theta, int64_t *restrict counts,
                     uint8_t *restrict spikes, int64_t *restrict in_counts, REAL *restrict dw, int64_t chunk,
                     REAL *restrict work, int64_t *restrict iwork, int64_t b0, int64_t b1,
                     const struct dc_params *p) {
    const REAL nu_pre = (REAL)p->nu_pre, nu_post = (REAL)p->nu_post;
    const REAL pre_scale = (REAL)p->pre_scale, post_scale = (REAL)p->post_scale;

    REAL *v_e = work, *r_e = v_e + n, *v_i = r_e + n, *r_i = v_i + n, *cur = r_i + n, *x_post = cur + n;
    REAL *x_pre = x_post + n, *log_q = x_pre + n_in;                /* log(1 - prob) of sample b */
    REAL *pre_pow = log_q + n_in, *post_pow = pre_pow + steps + 1;  /* d^k, k = 0 .. T */
    int64_t *ev = iwork;                                            /* this sample's events, by step */
    int64_t *start = ev + steps * n_in;                             /* [T + 1] */
    int64_t *head = start + steps + 1;                              /* [T]: first input of each bucket */
    int64_t *link = head + steps;                                   /* [n_in]: next input in its bucket */
    int64_t *t_pre = link + n_in, *seen = t_pre + n_in;             /* last input spike; inputs seen so far */
    int64_t *t_post = seen + n_in, *spiked = t_post + n;            /* last neuron spike; neurons seen so far */
    struct FN(dc_pair) pair = {v_e, r_e, v_i, r_i, spiked + n, spiked + 2 * n, 0, 0};
    for (int64_t k = 0; k <= steps; k++) {
        pre_pow[k] = (REAL)pow(p->pre_decay, (double)k);
        post_pow[k] = (REAL)pow(p->post_decay, (double)k);
    }

    for (int64_t b = b0; b < b1; b++) {
        /* --- the input trains of sample b: ev[start[t] .. start[t + 1]) spike at step t --- */
        const int64_t *events = ev;
        const int64_t *at = start;
        if (ev_start != NULL) {
            events = ev_input;
            at = ev_start + b * steps;
        } else {
            uint64_t state = seeds[b];
            for (int64_t t = 0; t < steps; t++)
                head[t] = -1;
            const REAL *restrict pb = prob + b * n_in;
            for (int64_t i = n_in - 1; i >= 0; i--) {
                if (!(pb[i] > 0))
                    continue;
                log_q[i] = (REAL)log1p(-(double)(pb[i] < 1 ? pb[i] : 1));
                int64_t t = dc_geometric_gap(&state, (double)log_q[i], steps) - 1;
                if (t < steps) {
                    link[i] = head[t];
                    head[t] = i;
                }
            }
            int64_t m = 0;
            for (int64_t t = 0; t < steps; t++) {
                start[t] = m;
                for (int64_t i = head[t]; i >= 0;) {
                    const int64_t next = link[i];
                    ev[m++] = i;
                    const int64_t later = t + dc_geometric_gap(&state, (double)log_q[i], steps);
                    if (later < steps) {
                        link[i] = head[later];
                        head[later] = i;
                    }
                    i = next;
                }
            }
            start[steps] = m;
        }
        if (in_counts != NULL) {
            int64_t *restrict c = in_counts + b * n_in;
            for (int64_t i = 0; i < n_in; i++)
                c[i] = 0;
            for (int64_t k = at[0]; k < at[steps]; k++)
                c[events[k]]++;
        }

        /* --- the recurrent pair, step by step, with the STDP sums (as dc_stdp) --- */
        REAL *restrict d = dw != NULL ? dw + (b / chunk) * n_in * n : NULL;
        int64_t *restrict cnt = counts + b * n;
        int64_t n_seen = 0, n_spiked = 0;
        FN(dc_pair_reset)(&pair, n, p);
        for (int64_t j = 0; j < n; j++) {
            x_post[j] = 0;
            t_post[j] = -1;
            cnt[j] = 0;
        }
        for (int64_t i = 0; i < n_in; i++)
            t_pre[i] = -1;
        for (int64_t t = 0; t < steps; t++) {
            /* input current: X(t-1) -> Ae */
            FN(dc_input_current)(cur, n, w, events, t > 0 ? at[t - 1] : 0, t > 0 ? at[t] : 0);
            FN(dc_pair_step)(&pair, n, cur, w_ei, w_ie, theta, p);
            const int64_t n_fired = pair.n_e, *restrict fired = pair.e_prev;
            for (int64_t m = 0; m < n_fired; m++)
                cnt[fired[m]]++;
            if (spikes != NULL) {
                uint8_t *restrict s = spikes + (t * batch + b) * n;
                for (int64_t j = 0; j < n; j++)
                    s[j] = 0;
                for (int64_t m = 0; m < n_fired; m++)
                    s[fired[m]] = 1;
            }
            if (d == NULL)
                continue;

            /* STDP: both traces take this step's spikes (evaluated lazily: x(t) = x(t0) d^(t - t0)) */
            for (int64_t m = 0; m < n_fired; m++)
                FN(dc_trace_spike)(fired[m], t, x_post, t_post, post_pow, post_scale, p->post_nearest, spiked,
                                   &n_spiked);
            for (int64_t k = at[t]; k < at[t + 1]; k++)
                FN(dc_trace_spike)(events[k], t, x_pre, t_pre, pre_pow, pre_scale, p->pre_nearest, seen, &n_seen);
            /* depression at this step's input spikes: the neurons that have spiked so far */
            if (n_spiked > 0)
                for (int64_t k = at[t]; k < at[t + 1]; k++) {
                    REAL *restrict row = d + events[k] * n;
                    for (int64_t m = 0; m < n_spiked; m++) {
                        const int64_t j = spiked[m];
                        row[j] = row[j] - nu_pre * (x_post[j] * post_pow[t - t_post[j]]);
                    }
                }
            /* potentiation at this step's excitatory spikes: the inputs that have spiked so far */
            for (int64_t m = 0; m < n_fired; m++) {
                const int64_t j = fired[m];
                for (int64_t k = 0; k < n_seen; k++) {
                    const int64_t i = seen[k];
                    const REAL x = x_pre[i] * pre_pow[t - t_pre[i]];
                    d[i * n + j] = d[i * n + j] + nu_post * x;
                }
            }
        }
    }
    return 0;
}
