// A deliberately simple, slow re-implementation of the exact dynamics used as an
// independent check: H by brute-force enumeration of all (K-1)-tuples of
// candidates (tiny n only), or the K = inf closed form, with no shifting tricks.

export function naiveH(p: number[], s: number[], K: number | 'inf'): number[] {
  const n = p.length;
  const e = s.map((x) => Math.exp(x));
  if (K === 'inf') {
    const z = p.reduce((acc, pj, j) => acc + pj * e[j], 0);
    return e.map((x) => x / z);
  }
  const H = new Array<number>(n).fill(0);
  // Enumerate every ordered tuple (y_1..y_{K-1}) with its probability.
  const tuple = new Array<number>(K - 1).fill(0);
  for (;;) {
    let prob = 1;
    let sum = 0;
    for (const y of tuple) {
      prob *= p[y];
      sum += e[y];
    }
    if (prob > 0) for (let x = 0; x < n; x++) H[x] += (prob * K * e[x]) / (e[x] + sum);
    let k = 0;
    while (k < K - 1 && ++tuple[k] === n) tuple[k++] = 0;
    if (k === K - 1) break;
  }
  return H;
}

export function naiveStep(p: number[], p0: number[], s: number[][], w: number[], K: number | 'inf', lambda: number): number[] {
  const n = p.length;
  const tilde = new Array<number>(n).fill(0);
  s.forEach((si, i) => {
    const H = naiveH(p, si, K);
    for (let x = 0; x < n; x++) tilde[x] += p[x] * w[i] * H[x];
  });
  const z = tilde.reduce((a, b) => a + b, 0);
  return tilde.map((v, x) => lambda * p0[x] + ((1 - lambda) * v) / z);
}
