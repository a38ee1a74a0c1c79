/* The phases of spikerl/neurons/phases.py in C, for the fused scans of the neuron models (lif_scan.h,
 * adaptive_lif_scan.h). Written once for a floating type REAL: spikerl/kernels/kernels.c includes this file
 * for float and double, with FN(name) giving each instantiation its name (charge_f32, charge_f64, ...).
 *
 * Every REAL expression performs the same IEEE operations, in the same order, as the torch phase it restates
 * (one rounding per torch op; Python float parameters are first rounded to REAL, as torch does for a scalar
 * operand). The library is compiled with -ffp-contract=off and without -ffast-math, so the compiler may not
 * fuse or reorder them: results are bit-identical to the torch step functions (tests/kernels/test_kernels_scan.py).
 */

/* leak -> integrate -> clamp_min: the membrane before firing. */
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
