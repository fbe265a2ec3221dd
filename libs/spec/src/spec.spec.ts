import { DatasetKind, ExperimentSpec, Initializer, TsneMethod } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import {
  ENUMS,
  enumValue,
  MAX_SPEC_TEXT_BYTES,
  parseSpecText,
  shortName,
  SpecValidationError,
  valueNames,
} from './index.js';

function refusal(text: string): SpecValidationError {
  try {
    parseSpecText(text, 'test.yaml');
  } catch (error: unknown) {
    if (error instanceof SpecValidationError) return error;
    throw error;
  }
  throw new Error('parseSpecText accepted it');
}

describe('parseSpecText', () => {
  it('reads YAML with short enum names and snake_case fields into the proto message', () => {
    const spec = parseSpecText(
      [
        'name: s',
        'datasets: [{ kind: fashion-mnist, train_subset: 100 }]',
        'arms: [{ initializer: sup-walsh }, { initializer: INITIALIZER_PYTORCH_DEFAULT }]',
        'pretraining: { tsne: { method: barnes-hut, learning_rate: auto } }',
      ].join('\n')
    );
    expect(spec).toEqual(
      ExperimentSpec.fromPartial({
        name: 's',
        datasets: [{ kind: DatasetKind.DATASET_KIND_FASHION_MNIST, trainSubset: 100 }],
        arms: [
          { initializer: Initializer.INITIALIZER_SUP_WALSH },
          { initializer: Initializer.INITIALIZER_PYTORCH_DEFAULT },
        ],
        pretraining: { tsne: { method: TsneMethod.TSNE_METHOD_BARNES_HUT, learningRate: 0 } },
      })
    );
  });

  it('reads JSON, which is YAML', () => {
    expect(parseSpecText('{"name": "j", "seeds": [1, 2]}').seeds).toEqual([1, 2]);
  });

  it('refuses an unknown field, a wrong type and an unknown enum value, naming the field', () => {
    expect(refusal('name: x\ntraining: { epoch: 1 }').field).toBe('training.epoch');
    expect(refusal('name: x\ntraining: { epoch: 1 }').message).toMatch(/its fields: epochs, optimizer/);
    expect(refusal('training: { epochs: "two" }').message).toBe('training.epochs must be a number, got "two"');
    const e = refusal('datasets: [{ kind: imagenet }]');
    expect(e.field).toBe('datasets[0].kind');
    expect(e.message).toMatch(/must be one of .*fashion-mnist.*got "imagenet"/);
  });

  it('refuses text that is not YAML, a spec that is not a mapping, duplicate keys and oversized text', () => {
    expect(refusal('name: [').message).toMatch(/^\(spec\) test\.yaml is not valid YAML or JSON/);
    expect(refusal('- a\n- b').message).toMatch(/must be a mapping \(ExperimentSpec\)/);
    expect(refusal('name: a\nname: b').message).toMatch(/not valid YAML/);
    expect(refusal(`name: ${'x'.repeat(MAX_SPEC_TEXT_BYTES)}`).message).toMatch(/larger than 262144 bytes/);
  });
});

describe('enum names', () => {
  it('maps every value of every spec enum to a short name and back', () => {
    for (const info of Object.values(ENUMS)) {
      const names = valueNames(info);
      expect(names.length, info.name).toBeGreaterThan(0);
      for (const name of names) {
        const value = info.values[name] as number;
        const short = shortName(info, value)!;
        expect(short).toMatch(/^[a-z0-9-]+$/);
        expect(enumValue(info, short)).toBe(value);
        expect(enumValue(info, name)).toBe(value);
      }
      expect(shortName(info, 0)).toBeUndefined();
      expect(enumValue(info, 'unspecified')).toBeUndefined();
    }
  });
});
