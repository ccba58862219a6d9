/**
 * Non-finite values (NaN, ±Infinity) in what the tool is given, found and named: a NaN pixel
 * would otherwise flow through the forward pass and come out as NaN patterns or as relevance 0,
 * with exit status 0. One function for every input that is not decoded from image bytes (which
 * are finite by construction): model input tensors and `.npy` batches, statistics sets, patterns.
 *
 * Decision: the error gives the first bad value's index along every axis, outermost first, with
 * the axes named N, C, H, W for a 4-D batch (the project's NCHW), so it can be found in the file.
 */

/** The index of the first non-finite value of `data` in `shape` (outermost first), and the value; null when all are finite. */
export function firstNonFinite(data: ArrayLike<number>, shape: readonly number[]): { readonly index: number[]; readonly value: number } | null {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for finite v, NaN for NaN and ±Infinity: one comparison per value.
    if (v - v === 0) continue;
    const index = new Array<number>(shape.length);
    let rest = i;
    for (let a = shape.length - 1; a >= 0; a--) {
      index[a] = rest % shape[a];
      rest = Math.floor(rest / shape[a]);
    }
    return { index, value: v };
  }
  return null;
}

/**
 * Throws unless every value of `data` (of `shape`) is finite: `${what}: a non-finite value (NaN)
 * at index [n, c, h, w] (N, C, H, W); ...`. `first` shifts the outermost index, for a batch read
 * from the middle of a larger set.
 */
export function assertFinite(data: ArrayLike<number>, shape: readonly number[], what: string, first = 0): void {
  const bad = firstNonFinite(data, shape);
  if (!bad) return;
  const index = bad.index.map((x, a) => (a === 0 ? x + first : x));
  const axes = shape.length === 4 ? ' (N, C, H, W)' : '';
  throw new Error(`${what}: a non-finite value (${bad.value}) at index [${index.join(', ')}]${axes}; every value must be a finite number`);
}
