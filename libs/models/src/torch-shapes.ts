/**
 * PyTorch's output-size arithmetic, reproduced so channels-last TF.js layers see exactly the maps torchvision does.
 * Pure functions; `torch-shapes.spec.ts` checks them against sizes PyTorch reports.
 */

/** `nn.Conv2d` output size along one axis: ⌊(in + 2p − d(k − 1) − 1) / s⌋ + 1 (may be ≤ 0: too small). */
export function convOutputSize(size: number, kernel: number, stride = 1, padding = 0, dilation = 1): number {
  return Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/**
 * `nn.MaxPool2d` / `nn.AvgPool2d` output size along one axis, including `ceil_mode`: with ceil_mode the last window
 * may run past the input, but never starts beyond the input plus the left padding (PyTorch's `pooling_output_shape`).
 */
export function poolOutputSize(size: number, kernel: number, stride: number, padding = 0, ceilMode = false): number {
  const span = size + 2 * padding - (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
  let out = Math.floor(span / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return out;
}

/**
 * The explicit `[before, after]` padding that makes a 'valid' TF.js window op produce PyTorch's output size `out`
 * (PyTorch pads `padding` on both sides; ceil_mode adds implicit padding after; unused rows are cropped by 'valid').
 */
export function torchPadding(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
  out: number
): [number, number] {
  const after = (out - 1) * stride + kernel - size - padding;
  return [padding, Math.max(0, after)];
}

/**
 * `nn.AdaptiveAvgPool2d` bins along one axis: bin i covers [⌊i·in/out⌋, ⌈(i+1)·in/out⌉). Bins overlap when `out`
 * does not divide `in`, and an input smaller than `out` is replicated (a 1-wide map pooled to 6 gives six copies).
 */
export function adaptiveBins(size: number, out: number): Array<[start: number, end: number]> {
  return Array.from({ length: out }, (_, i) => [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)]);
}
