/**
 * @supwalsh/wire — the one place where the v1 wire contract (@supwalsh/proto) meets the method
 * (@supwalsh/method): experiment specs from YAML/JSON text (re-exported from @supwalsh/spec), their complete validation and resolution (with proto
 * field paths in errors), run specs in both directions, progress events, and run records.
 * @module
 */
// Spec text and enum names live in @supwalsh/spec (proto and yaml only, so the light CLI needs no TF.js); re-exported
// so that services keep one import for everything about specs.
export {
  ENUMS,
  enumValue,
  MAX_SPEC_TEXT_BYTES,
  parseSpecText,
  shortName,
  SpecValidationError,
  valueNames,
  type EnumInfo,
} from '@supwalsh/spec';
export { WireConversionError } from './errors.js';
export {
  experimentEventToMethodEvent,
  methodEventToReport,
  phaseFromProto,
  phaseToProto,
  runResultFromJson,
} from './events.js';
export { DEFAULT_SERVICE_SETTINGS, runSpecFromProto, runSpecToProto, type ServiceSettings } from './run-spec.js';
export {
  checkSpecEnums,
  checkSpecLimits,
  checkSpecNumbers,
  DEFAULT_SPEC_LIMITS,
  serviceSettings,
  toMethodSpec,
  validateSpec,
  type PlannedRun,
  type SpecLimits,
  type ValidatedSpec,
  type ValidateSpecOptions,
} from './validate.js';
