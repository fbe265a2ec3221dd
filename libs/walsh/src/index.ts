/**
 * @supwalsh/walsh — Sylvester Hadamard matrices, the per-class Walsh codes that Sup-Walsh multiplies into
 * its auxiliary network, and the fast Walsh–Hadamard transform. Depends on nothing but typed arrays.
 * @module
 */
export { WalshArgumentError } from './errors.js';
export { fwht, type FwhtOptions } from './fwht.js';
export { hadamard, MAX_HADAMARD_ORDER, popcount, sequency, sylvesterEntry, sylvesterRow } from './hadamard.js';
export { isPowerOfTwo, nextPowerOfTwoAbove } from './power-of-two.js';
export { MAX_CLASSES, MIN_CLASSES, walshCodes, type WalshCodeOptions, type WalshOrdering } from './walsh-codes.js';
