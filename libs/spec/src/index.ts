/**
 * @supwalsh/spec — experiment specs as people write them: YAML or JSON text parsed strictly into the v1
 * `ExperimentSpec` message ({@link parseSpecText}), enum values by their short names (`fashion-mnist`,
 * `sup-walsh`) or proto names, {@link SpecValidationError} naming the field at fault, and progress as terminal text
 * (bars, percentages, durations) for the CLI and local runs. It depends only on
 * `@supwalsh/proto` and `yaml`, so clients (the `supwalsh` CLI, programs using the SDK) read spec files without the
 * method's TF.js; ranges and the method's own checks are `@supwalsh/wire`'s `validateSpec`, run by the coordinator.
 *
 * @example
 * ```ts
 * import { readFile } from 'node:fs/promises';
 * import { parseSpecText } from '@supwalsh/spec';
 *
 * const spec = parseSpecText(await readFile('examples/quickstart.yaml', 'utf8'), 'examples/quickstart.yaml');
 * ```
 * @module
 */
export { ENUMS, enumValue, requireKnownEnum, shortName, valueNames, type EnumInfo } from './enums.js';
export { SpecValidationError } from './errors.js';
export {
  duration,
  epochText,
  percent,
  progressBar,
  stepText,
  type EpochText,
  type ProgressStream,
  type StepText,
} from './progress-text.js';
export { MAX_SPEC_TEXT_BYTES, parseSpecText, snake } from './spec-text.js';
