import {
  AuxActivation,
  AuxNormalization,
  Backend,
  DatasetKind,
  Initializer,
  ModelKind,
  OptimizerKind,
  PixelScale,
  Preset,
  ResizeRoute,
  SnapshotSelection,
  TsneInit,
  TsneMethod,
  WalshOrdering,
} from '@supwalsh/proto';
import { SpecValidationError } from './errors.js';

/** A ts-proto enum object: names to numbers and back. */
type ProtoEnum = Record<string, string | number>;

/** One proto enum and its value prefix (`DATASET_KIND_`). */
export interface EnumInfo {
  readonly name: string;
  readonly values: ProtoEnum;
  readonly prefix: string;
}

function info(name: string, values: ProtoEnum, prefix: string): EnumInfo {
  return { name, values, prefix };
}

/** Every enum of spec.proto a user writes, by message field kind. */
export const ENUMS = {
  preset: info('Preset', Preset, 'PRESET_'),
  datasetKind: info('DatasetKind', DatasetKind, 'DATASET_KIND_'),
  pixelScale: info('PixelScale', PixelScale, 'PIXEL_SCALE_'),
  resizeRoute: info('ResizeRoute', ResizeRoute, 'RESIZE_ROUTE_'),
  modelKind: info('ModelKind', ModelKind, 'MODEL_KIND_'),
  initializer: info('Initializer', Initializer, 'INITIALIZER_'),
  tsneMethod: info('TsneMethod', TsneMethod, 'TSNE_METHOD_'),
  tsneInit: info('TsneInit', TsneInit, 'TSNE_INIT_'),
  walshOrdering: info('WalshOrdering', WalshOrdering, 'WALSH_ORDERING_'),
  auxActivation: info('AuxActivation', AuxActivation, 'AUX_ACTIVATION_'),
  auxNormalization: info('AuxNormalization', AuxNormalization, 'AUX_NORMALIZATION_'),
  snapshotSelection: info('SnapshotSelection', SnapshotSelection, 'SNAPSHOT_SELECTION_'),
  optimizerKind: info('OptimizerKind', OptimizerKind, 'OPTIMIZER_KIND_'),
  backend: info('Backend', Backend, 'BACKEND_'),
} as const;

/** Proto value names other than UNSPECIFIED / UNRECOGNIZED, e.g. `DATASET_KIND_MNIST`. */
export function valueNames(e: EnumInfo): string[] {
  return Object.keys(e.values).filter(
    (k) => Number.isNaN(Number(k)) && k.startsWith(e.prefix) && !k.endsWith('_UNSPECIFIED')
  );
}

/** `DATASET_KIND_FASHION_MNIST` → `fashion-mnist`: the name the method and YAML specs use. */
export function shortName(e: EnumInfo, value: number): string | undefined {
  const name = e.values[value];
  if (typeof name !== 'string' || !name.startsWith(e.prefix) || name.endsWith('_UNSPECIFIED')) return undefined;
  return name.slice(e.prefix.length).toLowerCase().replace(/_/g, '-');
}

/** The inverse of `shortName`; also accepts the full proto name. Undefined for anything else. */
export function enumValue(e: EnumInfo, name: string): number | undefined {
  const full = name.startsWith(e.prefix) ? name : `${e.prefix}${name.toUpperCase().replace(/-/g, '_')}`;
  const value = e.values[full];
  return typeof value === 'number' && !full.endsWith('_UNSPECIFIED') ? value : undefined;
}

/**
 * Refuses an enum value that is neither 0 (unset) nor one of `e`'s values: a number from a newer or hostile
 * client is never silently replaced by a default. Throws {@link SpecValidationError} naming `field`.
 */
export function requireKnownEnum(field: string, e: EnumInfo, value: number): void {
  if (value === 0 || shortName(e, value) !== undefined) return;
  throw new SpecValidationError(field, `${field} must be one of ${valueNames(e).join(', ')} (or unset), got ${value}`);
}
