/**
 * numpy's `np.sum` of a contiguous float64 vector, bit for bit (`DOUBLE_pairwise_sum`): below 8 values a plain
 * running sum; up to 128, eight interleaved partial sums combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
 * (r6 + r7)) and the remainder added one by one; above, the two halves (split at a multiple of 8) summed
 * recursively. scikit-learn's normalisers (Σ P, Σ of the Student-t kernel) are such sums; matching their rounding
 * keeps our t-SNE on scikit-learn's trajectory, which at 10 points is chaotic enough to amplify a last-bit
 * difference into a different local minimum.
 */
export function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!;
    let r1 = a[start + 1]!;
    let r2 = a[start + 2]!;
    let r3 = a[start + 3]!;
    let r4 = a[start + 4]!;
    let r5 = a[start + 5]!;
    let r6 = a[start + 6]!;
    let r7 = a[start + 7]!;
    let i = 8;
    const end = n - (n % 8);
    for (; i < end; i += 8) {
      const o = start + i;
      r0 += a[o]!;
      r1 += a[o + 1]!;
      r2 += a[o + 2]!;
      r3 += a[o + 3]!;
      r4 += a[o + 4]!;
      r5 += a[o + 5]!;
      r6 += a[o + 6]!;
      r7 += a[o + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, start, half) + pairwiseSum(a, start + half, n - half);
}
