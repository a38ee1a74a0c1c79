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

/* The transposed, accumulating counterpart (event-driven pairing, for eligibility traces):
 * into[b, i, :] += rows[t, b, :] for every spike spikes[t, b, i] != 0, in ascending t, then b, then i.
 * spikes: [steps, batch, n_in] bytes; rows: [steps, batch, n_out]; into: [batch, n_in, n_out]. Silent inputs
 * are skipped eight bytes at a time; each spike adds one row (the same additions as index_add_ over the
 * spike events in that order). */
static void FN(add_row)(int64_t n, const REAL *restrict v, REAL *restrict row) {
    for (int64_t j = 0; j < n; j++)
        row[j] = row[j] + v[j];
}

void FN(add_spike_rows)(int64_t steps, int64_t batch, int64_t n_in, int64_t n_out, const uint8_t *spikes,
                        const REAL *restrict rows, REAL *restrict into) {
    for (int64_t t = 0; t < steps; t++) {
        for (int64_t b = 0; b < batch; b++) {
            const uint8_t *s = spikes + (t * batch + b) * n_in;
            const REAL *v = rows + (t * batch + b) * n_out;
            REAL *target = into + b * n_in * n_out;
            int64_t i = 0;
            for (; i + 8 <= n_in; i += 8) { /* skip silent inputs eight at a time */
                uint64_t word;
                memcpy(&word, s + i, sizeof word);
                if (word == 0)
                    continue;
                for (int64_t m = i; m < i + 8; m++)
                    if (s[m])
                        FN(add_row)(n_out, v, target + m * n_out);
            }
            for (; i < n_in; i++)
                if (s[i])
                    FN(add_row)(n_out, v, target + i * n_out);
        }
    }
}
