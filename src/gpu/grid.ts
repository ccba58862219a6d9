/** Workgroup counts for `total` invocations of a 1-D kernel, folded into 2-D past the per-dimension limit. */
export function grid1d(total: number, wg: number, maxPerDim = 65535): [number, number, number] {
  const groups = Math.max(1, Math.ceil(total / wg));
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * Workgroup counts for a GEMM-like grid of nTiles (along n) x mTiles (along m) x z tiles, with the
 * m-tiles folded into x once they pass the per-dimension limit (a 1x1 convolution over 9 Mpixels
 * needs 147,000 tiles of 64). Kernels unfold it with the fold-grid snippet that `npm run shaders`
 * writes into them (scripts/shadergen/snippets.ts): nTiles = ceil(N / BN), fold =
 * num_workgroups.x / nTiles, m-tile = wid.y * fold + wid.x / nTiles; the last row's spare
 * workgroups return at once.
 */
export function tileGrid(nTiles: number, mTiles: number, z: number, maxPerDim = 65535): [number, number, number] {
  const fold = Math.max(1, Math.ceil(mTiles / maxPerDim));
  if (nTiles * fold > maxPerDim || z > maxPerDim) {
    throw new Error(`a grid of ${nTiles} x ${mTiles} x ${z} tiles does not fit ${maxPerDim} workgroups per dimension`);
  }
  return [nTiles * fold, Math.ceil(mTiles / fold), z];
}
