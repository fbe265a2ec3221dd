/** Every model `buildModel` knows, in the order of the original's tables. */
export const MODEL_NAMES = ['base', 'alexnet', 'vgg19', 'resnet50', 'googlenet', 'squeezenet', 'mit-b0'] as const;

export type ModelName = (typeof MODEL_NAMES)[number];

export function isModelName(value: unknown): value is ModelName {
  return typeof value === 'string' && (MODEL_NAMES as readonly string[]).includes(value);
}
