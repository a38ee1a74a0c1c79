/* One online-learning presentation of the Diehl & Cook (2015) network, fused into one C call.
 *
 * It performs, step by step, what spikerl.network.Network.run(learning=True) does for the layers
 * X (input), Ae (adaptive LIF), Ai (LIF), the connections X->Ae (plastic, PostPre), Ae->Ai and Ai->Ae, in
 * the network's update order (every connection carries the spikes of step t-1 to step t; layers step in
 * the order X, Ae, Ai; then the rule updates its traces and the weights). The neuron phases and the rule use
 * the same IEEE operations as the torch code (see spikerl/kernels/kernels_impl.h for the conventions); the
 * synaptic sums add weight rows of the spiking sources in ascending order (torch's dense products may sum
 * in another order, so currents can differ in the last bit).
 *
 * Work per step: the weight rows of the active inputs and of the spiking neurons, the input trace (n_in),
 * and the STDP update of the rows of active inputs and the columns of spiking neurons only: every other
 * weight has dw = 0 exactly. Compiled by spikerl/models/diehl_cook_online.py for float and double.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Mirrors spikerl.models.diehl_cook_online._Params (ctypes). */
struct dc_params {
    double exc_v_rest, exc_v_reset, exc_v_thresh, exc_decay, exc_refractory;
    double theta_plus, theta_decay;
    double inh_v_rest, inh_v_reset, inh_v_thresh, inh_decay, inh_refractory;
    double nu_pre, nu_post, pre_decay, post_decay, pre_scale, post_scale;
    double wmin, wmax;
    int32_t one_spike, pre_nearest, post_nearest, adapt;
};

int64_t spikerl_diehl_cook_abi(void) { return 1; }

#define REAL float
#define FN(name) name##_f32
#include "diehl_cook_online_impl.h"
#undef REAL
#undef FN

#define REAL double
#define FN(name) name##_f64
#include "diehl_cook_online_impl.h"
#undef REAL
#undef FN
