/* Event-driven propagation of a spike train through dense weights, written once for a floating type REAL
 * (spikerl/kernels/kernels.c includes this file for float and double: propagate_f32, propagate_f64):
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

/* The transposed, accumulating counterpart (event-driven pairing, for eligibility traces): for every row r = t * batch
 * + b of a spike train [steps * batch, n_in] and each of its active inputs i (from spike_events, ascending),
 * into[b, i, :] += rows[r, :]. rows: [steps * batch, n_out]; into: [batch, n_in, n_out]. Sample by sample (its
 * slab of into stays in cache over the steps), each in ascending t, so every element receives its additions in
 * ascending t: the order of index_add_ over the events. */
void FN(add_spike_rows)(int64_t steps, int64_t batch, int64_t n_in, int64_t n_out, const int64_t *row_start,
                        const int64_t *inputs, const REAL *restrict v, REAL *restrict into) {
    for (int64_t b = 0; b < batch; b++) {
        REAL *restrict target = into + b * n_in * n_out;
        for (int64_t t = 0; t < steps; t++) {
            int64_t r = t * batch + b;
            const REAL *restrict vr = v + r * n_out;
            for (int64_t k = row_start[r]; k < row_start[r + 1]; k++) {
                REAL *restrict row = target + inputs[k] * n_out;
                for (int64_t j = 0; j < n_out; j++)
                    row[j] = row[j] + vr[j];
            }
        }
    }
}
