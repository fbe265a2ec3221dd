import { WalshArgumentError } from './errors.js';
import { sequency, sylvesterRow } from './hadamard.js';
import { isPowerOfTwo, nextPowerOfTwoAbove } from './power-of-two.js';

/**
 * How Hadamard rows are assigned to classes.
 * - `'seed'`: class k gets Sylvester row k + 1 — exactly the original's hard-coded 10 × 16 table.
 *   Its name is a promise: it stays the original's table whatever the other orderings do.
 * - `'natural'`: Sylvester (natural, Hadamard) order, rows 1, 2, 3, … Today the same rows as `'seed'`.
 * - `'sequency'`: rows sorted by number of sign changes (Walsh order), sequency 1, 2, 3, …
 */
export type WalshOrdering = 'seed' | 'natural' | 'sequency';

export interface WalshCodeOptions {
  /** @default 'seed' */
  ordering?: WalshOrdering;
  /** Code length, a power of two greater than numClasses. @default the smallest such power */
  length?: number;
}

/** Smallest and largest class counts `walshCodes` accepts. */
export const MIN_CLASSES = 2;
export const MAX_CLASSES = 1023;

const ORDERINGS: readonly WalshOrdering[] = ['seed', 'natural', 'sequency'];

/**
 * One distinct ±1 Walsh code per class. The all-ones row (row 0) is never used: it would make the
 * element-wise product a no-op and carry no class information.
 * @throws WalshArgumentError for a class count outside 2…1023, an unknown ordering, or a length that is
 *   not a power of two or too short to give every class its own non-constant row.
 */
export function walshCodes(numClasses: number, options: WalshCodeOptions = {}): Int8Array[] {
  const { ordering = 'seed' } = options;
  if (!Number.isInteger(numClasses) || numClasses < MIN_CLASSES || numClasses > MAX_CLASSES) {
    throw new WalshArgumentError(
      'walshCodes',
      'numClasses',
      `must be an integer from ${MIN_CLASSES} to ${MAX_CLASSES}, got ${numClasses}`
    );
  }
  if (!ORDERINGS.includes(ordering)) {
    throw new WalshArgumentError(
      'walshCodes',
      'ordering',
      `must be one of ${ORDERINGS.join(', ')}, got ${String(ordering)}`
    );
  }
  const length = options.length ?? nextPowerOfTwoAbove(numClasses);
  if (!isPowerOfTwo(length) || length <= numClasses) {
    throw new WalshArgumentError(
      'walshCodes',
      'length',
      `must be a power of two greater than numClasses (${numClasses}), i.e. at least ${nextPowerOfTwoAbove(numClasses)}; got ${length}`
    );
  }
  const rows = Array.from({ length }, (_, i) => sylvesterRow(i, length));
  const order = ordering === 'sequency' ? sequencyOrder(rows) : rows.map((_, i) => i);
  // Position 0 of either order is the all-ones row (natural row 0, sequency 0): skip it.
  return order.slice(1, numClasses + 1).map((i) => rows[i] as Int8Array);
}

/** Row indices sorted by sequency; a Sylvester matrix has exactly one row of each sequency. */
function sequencyOrder(rows: Int8Array[]): number[] {
  const bySequency = new Array<number>(rows.length);
  rows.forEach((row, i) => (bySequency[sequency(row)] = i));
  return bySequency;
}
