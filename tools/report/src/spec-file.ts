import fs from 'node:fs/promises';
import type { ExperimentSpec } from '@supwalsh/method';
import { parseDocument } from 'yaml';
import { ReportArgumentError } from './errors.js';

/** Largest spec file read: specs are a few KiB; anything this big is a mistake. */
export const MAX_SPEC_BYTES = 1024 * 1024;

/**
 * Reads an experiment spec from YAML or JSON (JSON is YAML). The shape is checked by
 * `@supwalsh/method`'s `resolveExperimentSpec`; this only parses, with the file and line in errors.
 */
export async function readSpecFile(file: string): Promise<ExperimentSpec> {
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (stat.size > MAX_SPEC_BYTES) {
      throw new ReportArgumentError(
        'readSpecFile',
        'file',
        `${file} is ${stat.size} bytes, more than ${MAX_SPEC_BYTES}`
      );
    }
    text = await fs.readFile(file, 'utf8');
  } catch (error: unknown) {
    if (error instanceof ReportArgumentError) throw error;
    throw new ReportArgumentError('readSpecFile', 'file', `cannot be read: ${file} (${(error as Error).message})`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) {
    throw new ReportArgumentError('readSpecFile', 'file', `${file} is not valid YAML/JSON: ${problem.message}`);
  }
  const spec: unknown = doc.toJS();
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new ReportArgumentError('readSpecFile', 'file', `${file} must hold one mapping (the experiment spec)`);
  }
  return spec as ExperimentSpec;
}
