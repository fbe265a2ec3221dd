import type * as tfl from '@tensorflow/tfjs-layers';

/** Layers that own a weight matrix: `nn.Conv2d`, depthwise `nn.Conv2d(groups = channels)`, `nn.Linear`. */
export type ParameterLayerKind = 'conv' | 'depthwise' | 'dense';

export interface ParameterLayer {
  readonly layer: tfl.layers.Layer;
  /** The layer's name (torchvision module path). */
  readonly name: string;
  readonly kind: ParameterLayerKind;
  /** PyTorch's `_calculate_fan_in_and_fan_out` of the weight (groups not divided out). */
  readonly fanIn: number;
  readonly fanOut: number;
  /** Rows of the PyTorch weight (output channels / features): `orthogonal_` works on `[rows, fanIn]`. */
  readonly rows: number;
  /** Output channels per group for depthwise convs (SegFormer's fan_out divides groups out): 1 otherwise. */
  readonly groupOutputs: number;
  readonly receptiveField: number;
  readonly hasBias: boolean;
}

const KINDS: Record<string, ParameterLayerKind> = { Conv2D: 'conv', DepthwiseConv2D: 'depthwise', Dense: 'dense' };

/** The weight-matrix layers of a model, in model (topological) order. */
export function parameterLayers(model: tfl.LayersModel): ParameterLayer[] {
  const out: ParameterLayer[] = [];
  for (const layer of model.layers) {
    const kind = KINDS[layer.getClassName()];
    const kernel = layer.weights[0];
    if (!kind || !kernel) continue;
    const shape = kernel.shape as number[];
    const hasBias = layer.weights.length > 1;
    if (kind === 'dense') {
      const [fanIn = 0, units = 0] = shape;
      out.push({
        layer,
        name: layer.name,
        kind,
        fanIn,
        fanOut: units,
        rows: units,
        groupOutputs: 1,
        receptiveField: 1,
        hasBias,
      });
    } else {
      const [kh = 0, kw = 0, channels = 0, last = 0] = shape;
      const receptiveField = kh * kw;
      const rows = kind === 'conv' ? last : channels * last;
      const fanIn = (kind === 'conv' ? channels : 1) * receptiveField;
      const groupOutputs = kind === 'conv' ? rows : last;
      out.push({
        layer,
        name: layer.name,
        kind,
        fanIn,
        fanOut: rows * receptiveField,
        rows,
        groupOutputs,
        receptiveField,
        hasBias,
      });
    }
  }
  return out;
}
