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
