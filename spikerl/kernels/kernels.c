/* spikerl's fused CPU kernels: plain C, no torch headers, loaded with ctypes (see spikerl/kernels/build.py).
 *
 * - lif_scan: T steps of the LIF model (IF is tau = inf, i.e. no leak);
 * - adaptive_lif_scan: T steps of the adaptive-threshold LIF;
 * - propagate: spike train x dense weights, event-driven (used by spikerl/connections/dense.py);
 * - add_spike_rows: a row added per spike, event-driven (the pairings of spikerl.plasticity.FactoredMSTDPET).
 * Each exists for float (_f32) and double (_f64). The C restatement of a neuron model lives beside its Python
 * reference (spikerl/neurons/phases.h, lif_scan.h, adaptive_lif_scan.h next to phases.py, lif.py,
 * adaptive_lif.py); propagate's body is in propagate.h. This file holds the interface: the parameter structs,
 * the ABI version, the spike-counting helpers and the float/double instantiations.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Mirrors spikerl.kernels.build.LIFParams (ctypes); parameters are given in double, as Python holds them. */
struct lif_params {
    double v_rest, v_reset, v_thresh, v_min, decay;
    int64_t refractory_steps;
    int32_t leaky, has_v_min;
};

/* Mirrors spikerl.kernels.build.AdaptiveParams. */
struct adaptive_params {
    double theta_plus, theta_decay;
    int32_t one_spike, adapt;
};

/* Version of the C interface, checked by the loader. */
int64_t spikerl_kernels_abi(void) { return 2; }

/* Number of nonzero bytes among n (a spike count), skipping silent stretches eight bytes at a time. */
int64_t count_spikes(int64_t n, const uint8_t *spikes) {
    int64_t count = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, spikes + i, sizeof word);
        if (word != 0)
            for (int64_t m = i; m < i + 8; m++)
                count += spikes[m] != 0;
    }
    for (; i < n; i++)
        count += spikes[i] != 0;
    return count;
}

/* The active inputs of each row of a 0/1 byte matrix spikes [rows, n_in], as compressed rows:
 * row r's inputs, ascending, are inputs[row_start[r] .. row_start[r+1]). inputs must hold every spike. */
void spike_events(int64_t rows, int64_t n_in, const uint8_t *spikes, int64_t *row_start, int64_t *inputs) {
    int64_t k = 0;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *s = spikes + r * n_in;
        row_start[r] = k;
        int64_t i = 0;
        for (; i + 8 <= n_in; i += 8) { /* skip silent inputs eight at a time */
            uint64_t word;
            memcpy(&word, s + i, sizeof word);
            if (word == 0)
                continue;
            for (int64_t m = i; m < i + 8; m++)
                if (s[m])
                    inputs[k++] = m;
        }
        for (; i < n_in; i++)
            if (s[i])
                inputs[k++] = i;
    }
    row_start[rows] = k;
}

#define REAL float
#define FN(name) name##_f32
#include "../neurons/phases.h"
#include "../neurons/lif_scan.h"
#include "../neurons/adaptive_lif_scan.h"
#include "propagate.h"
#undef REAL
#undef FN

#define REAL double
#define FN(name) name##_f64
#include "../neurons/phases.h"
#include "../neurons/lif_scan.h"
#include "../neurons/adaptive_lif_scan.h"
#include "propagate.h"
#undef REAL
#undef FN
