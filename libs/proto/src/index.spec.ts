import { describe, expect, it } from 'vitest';
import * as collective from './gen/supwalsh/v1/collective.js';
import * as coordinator from './gen/supwalsh/v1/coordinator.js';
import * as event from './gen/supwalsh/v1/event.js';
import * as experiment from './gen/supwalsh/v1/experiment.js';
import * as spec from './gen/supwalsh/v1/spec.js';
import * as tensor from './gen/supwalsh/v1/tensor.js';
import * as worker from './gen/supwalsh/v1/worker.js';
import * as barrel from './index.js';

const generated = { collective, coordinator, event, experiment, spec, tensor, worker };

/** Generated exports the barrel leaves out on purpose: per-file metadata and map-entry helper messages. */
function isInternal(name: string): boolean {
  return name === 'protobufPackage' || name === 'protobufFileName' || /_\w+Entry$/.test(name);
}

describe('index', () => {
  it('re-exports every generated message, enum, enum helper and service by name', () => {
    const missing: string[] = [];
    for (const [file, module] of Object.entries(generated)) {
      for (const [name, value] of Object.entries(module)) {
        if (isInternal(name)) continue;
        if ((barrel as Record<string, unknown>)[name] !== value) missing.push(`${file}.ts: ${name}`);
      }
    }
    expect(missing, 'add these to libs/proto/src/index.ts').toEqual([]);
  });

  it('names the protobuf package', () => {
    expect(barrel.protobufPackage).toBe('supwalsh.v1');
  });
});
