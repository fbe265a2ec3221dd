/**
 * @supwalsh/wire — the one place where the v1 wire contract (@supwalsh/proto) meets the method
 * (@supwalsh/method): experiment specs from YAML/JSON text, their complete validation and resolution (with proto
 * field paths in errors), run specs in both directions, progress events, and run records.
 * @module
 */
export { ENUMS, enumValue, shortName, valueNames, type EnumInfo } from './enums.js';
export { SpecValidationError, WireConversionError } from './errors.js';
export {
  experimentEventToMethodEvent,
  methodEventToReport,
  phaseFromProto,
  phaseToProto,
  runResultFromJson,
} from './events.js';
export { DEFAULT_SERVICE_SETTINGS, runSpecFromProto, runSpecToProto, type ServiceSettings } from './run-spec.js';
export { MAX_SPEC_TEXT_BYTES, parseSpecText } from './spec-text.js';
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
