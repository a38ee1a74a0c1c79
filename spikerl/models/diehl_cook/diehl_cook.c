/* Fused presentations of the Diehl & Cook (2015) network: dc_online (one online-learning presentation),
 * dc_batch (a frozen batch: encoding, simulation, summed STDP) and dc_stdp (the summed STDP of given trains).
 *
 * dc_online performs, step by step, what spikerl.network.Network.run(learning=True) does for the layers
 * X (input), Ae (adaptive LIF), Ai (LIF), the connections X->Ae (plastic, PostPre), Ae->Ai and Ai->Ae, in
 * the network's update order (every connection carries the spikes of step t-1 to step t; layers step in
 * the order X, Ae, Ai; then the rule updates its traces and the weights). The neuron phases and the rule use
 * the same IEEE operations as the torch code (see spikerl/kernels/kernels_impl.h for the conventions); the
 * synaptic sums add weight rows of the spiking sources in ascending order (torch's dense products may sum
 * in another order, so currents can differ in the last bit).
 *
 * Work per step: the weight rows of the active inputs and of the spiking neurons, the input trace (n_in),
 * and the STDP update of the rows of active inputs and the columns of spiking neurons only: every other
 * weight has dw = 0 exactly. Compiled by spikerl/models/diehl_cook/fused.py for float and double.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Mirrors spikerl.models.diehl_cook.fused.FusedParams (ctypes). */
struct dc_params {
    double exc_v_rest, exc_v_reset, exc_v_thresh, exc_decay, exc_refractory;
    double theta_plus, theta_decay;
    double inh_v_rest, inh_v_reset, inh_v_thresh, inh_decay, inh_refractory;
    double nu_pre, nu_post, pre_decay, post_decay, pre_scale, post_scale;
    double wmin, wmax;
    int32_t one_spike, pre_nearest, post_nearest, adapt;
};

int64_t spikerl_diehl_cook_abi(void) { return 2; }

/* splitmix64 (Steele, Lea & Flood 2014): the input generator of dc_batch, one 64-bit state per sample. */
static inline uint64_t dc_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Steps from one spike of a Bernoulli process with P(spike) = p per step to its next spike: geometric,
 * P(gap = k) = (1 - p)^(k - 1) p, drawn by inversion, floor(log(u) / log(1 - p)) + 1 with u uniform in (0, 1].
 * log_q = log(1 - p) (-inf for p = 1: gap 1). Gaps beyond `steps` are returned as steps + 1. */
static inline int64_t dc_geometric_gap(uint64_t *state, double log_q, int64_t steps) {
    const double u = (double)((dc_random(state) >> 11) + 1) * 0x1.0p-53;
    const double gap = floor(log(u) / log_q) + 1;
    return gap <= (double)steps ? (int64_t)gap : steps + 1;
}

#define REAL float
#define FN(name) name##_f32
#include "diehl_cook_impl.h"
#undef REAL
#undef FN

#define REAL double
#define FN(name) name##_f64
#include "diehl_cook_impl.h"
#undef REAL
#undef FN
