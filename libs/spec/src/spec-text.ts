import { ExperimentSpec } from '@supwalsh/proto';
import { parseDocument } from 'yaml';
import { ENUMS, enumValue, valueNames, type EnumInfo } from './enums.js';
import { SpecValidationError } from './errors.js';

/** What a field of a spec message holds. */
type FieldKind =
  | 'string'
  | 'number'
  | 'boolean'
  | 'numbers'
  | 'map'
  /** A number, or the string 'auto' (stored as 0, which the field's comment defines as auto). */
  | 'number-or-auto'
  | { readonly enum: EnumInfo }
  | { readonly message: MessageSchema }
  | { readonly list: MessageSchema };

interface MessageSchema {
  readonly name: string;
  readonly fields: Readonly<Record<string, FieldKind>>;
}

const message = (name: string, fields: Record<string, FieldKind>): MessageSchema => ({ name, fields });
const e = (info: EnumInfo): FieldKind => ({ enum: info });

const OPTIMIZER = message('OptimizerSpec', {
  kind: e(ENUMS.optimizerKind),
  learningRate: 'number',
  weightDecay: 'number',
  momentum: 'number',
  nesterov: 'boolean',
  beta1: 'number',
  beta2: 'number',
  epsilon: 'number',
});

/** spec.proto's ExperimentSpec, field by field (proto3 JSON names), for strict parsing of YAML and JSON specs. */
const EXPERIMENT_SPEC = message('ExperimentSpec', {
  name: 'string',
  description: 'string',
  labels: 'map',
  preset: e(ENUMS.preset),
  datasets: {
    list: message('DatasetSpec', {
      kind: e(ENUMS.datasetKind),
      root: 'string',
      trainSubset: 'number',
      testSubset: 'number',
      pixelScale: e(ENUMS.pixelScale),
      imageSize: 'number',
      resizeRoute: e(ENUMS.resizeRoute),
    }),
  },
  models: { list: message('ModelSpec', { kind: e(ENUMS.modelKind), pretrainedDir: 'string' }) },
  arms: {
    list: message('ArmSpec', {
      name: 'string',
      initializer: e(ENUMS.initializer),
      baseInitializer: e(ENUMS.initializer),
    }),
  },
  pretraining: {
    message: message('PretrainingSpec', {
      epochs: 'number',
      optimizer: { message: OPTIMIZER },
      classGroupBatchSize: 'number',
      groupsPerStep: 'number',
      tsne: {
        message: message('TsneSpec', {
          perplexity: 'number',
          iterations: 'number',
          learningRate: 'number-or-auto',
          earlyExaggeration: 'number',
          exaggerationIterations: 'number',
          method: e(ENUMS.tsneMethod),
          theta: 'number',
          init: e(ENUMS.tsneInit),
          iterationsWithoutProgress: 'number',
          minGradNorm: 'number',
        }),
      },
      walshOrdering: e(ENUMS.walshOrdering),
      auxNet: {
        message: message('AuxNetSpec', {
          widths: 'numbers',
          activation: e(ENUMS.auxActivation),
          normalization: e(ENUMS.auxNormalization),
        }),
      },
      snapshotSelection: e(ENUMS.snapshotSelection),
    }),
  },
  training: {
    message: message('TrainingSpec', {
      epochs: 'number',
      optimizer: { message: OPTIMIZER },
      batchSize: 'number',
      dropLast: 'boolean',
      shuffle: 'boolean',
    }),
  },
  evaluation: { message: message('EvaluationSpec', { epochs: 'numbers', initial: 'boolean', batchSize: 'number' }) },
  seeds: 'numbers',
  workers: {
    message: message('WorkersSpec', {
      minWorkers: 'number',
      maxWorkers: 'number',
      maxParallelRuns: 'number',
      selector: 'map',
    }),
  },
  backend: e(ENUMS.backend),
  checkpoints: { message: message('CheckpointSpec', { everySteps: 'number', keepLast: 'number' }) },
  limits: {
    message: message('LimitsSpec', {
      experimentTimeoutSeconds: 'number',
      runTimeoutSeconds: 'number',
      maxRunRestarts: 'number',
      stopOnNonFinite: 'boolean',
      maxStepsPerEpoch: 'number',
    }),
  },
  outputs: {
    message: message('OutputSpec', {
      saveWeights: 'boolean',
      saveInitialWeights: 'boolean',
      report: 'boolean',
      plots: 'boolean',
      progressEverySteps: 'number',
    }),
  },
  priority: 'number',
});

/** Largest spec text accepted: real specs are a few KiB. */
export const MAX_SPEC_TEXT_BYTES = 256 * 1024;

/**
 * Parses an experiment spec written in YAML or JSON (JSON is YAML) into the proto message: the proto3 JSON field
 * names (camelCase; snake_case also accepted), enum values as the proto names (`DATASET_KIND_FASHION_MNIST`) or the
 * short names the method uses (`fashion-mnist`). Strict: an unknown field, a wrong type or an unknown enum value
 * is a `SpecValidationError` naming the field. Ranges are checked later by `validateSpec`.
 */
export function parseSpecText(text: string, source = 'spec'): ExperimentSpec {
  if (Buffer.byteLength(text, 'utf8') > MAX_SPEC_TEXT_BYTES) {
    throw new SpecValidationError('(spec)', `${source} is larger than ${MAX_SPEC_TEXT_BYTES} bytes`);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) throw new SpecValidationError('(spec)', `${source} is not valid YAML or JSON: ${problem.message}`);
  const normalized = normalize(doc.toJS() as unknown, EXPERIMENT_SPEC, '');
  return ExperimentSpec.fromJSON(normalized);
}

/** Checks `value` against `schema`, returning a copy with camelCase keys and full enum names. */
function normalize(value: unknown, schema: MessageSchema, path: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecValidationError(path || '(spec)', `${path || 'the spec'} must be a mapping (${schema.name})`);
  }
  const out: Record<string, unknown> = {};
  for (const [rawKey, v] of Object.entries(value)) {
    const key = rawKey.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const field = `${path ? `${path}.` : ''}${snake(key)}`;
    const kind = schema.fields[key];
    if (kind === undefined) {
      throw new SpecValidationError(
        field,
        `${field} is not a field of ${schema.name}; its fields: ${Object.keys(schema.fields).map(snake).join(', ')}`
      );
    }
    if (v === null || v === undefined) continue;
    out[key] = normalizeField(v, kind, field);
  }
  return out;
}

function normalizeField(v: unknown, kind: FieldKind, field: string): unknown {
  if (kind === 'number-or-auto') {
    if (v === 'auto') return 0;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new SpecValidationError(field, `${field} must be a number or 'auto', got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (kind === 'string' || kind === 'number' || kind === 'boolean') {
    if (typeof v !== kind || (kind === 'number' && !Number.isFinite(v))) {
      throw new SpecValidationError(field, `${field} must be a ${kind}, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (kind === 'numbers') {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new SpecValidationError(field, `${field} must be a list of numbers, got ${JSON.stringify(v)}`);
    }
    return v;
  }
  if (kind === 'map') {
    if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v as object).every((x) => typeof x === 'string')) {
      throw new SpecValidationError(field, `${field} must be a mapping of strings to strings`);
    }
    return v;
  }
  if ('enum' in kind) {
    const value = typeof v === 'string' ? enumValue(kind.enum, v) : undefined;
    if (value === undefined) {
      const allowed = valueNames(kind.enum).map((n) =>
        n.slice(kind.enum.prefix.length).toLowerCase().replace(/_/g, '-')
      );
      throw new SpecValidationError(field, `${field} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return kind.enum.values[value];
  }
  if ('message' in kind) return normalize(v, kind.message, field);
  if (!Array.isArray(v)) throw new SpecValidationError(field, `${field} must be a list of ${kind.list.name}`);
  return v.map((item, i) => normalize(item, kind.list, `${field}[${i}]`));
}

/** `learningRate` → `learning_rate`: proto field paths in messages. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
