/**
 * Offline checks of the Kubernetes manifests: render a kustomize directory with `kubectl kustomize` (no API
 * server needed) and validate every rendered object against the Kubernetes API schemas bundled in the
 * `kubernetes-models` package.
 *
 * `SUPWALSH_KUBECTL` names the kubectl binary to use (default `kubectl` on the PATH).
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The repository root (deploy/src/ → ../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The overlays every check runs over. */
export const OVERLAYS = ['gpu', 'cpu', 'dev'] as const;
export type Overlay = (typeof OVERLAYS)[number];

/** One rendered Kubernetes object (as YAML gives it). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** The kubectl binary the checks run. */
export function kubectlBinary(): string {
  return process.env['SUPWALSH_KUBECTL'] || 'kubectl';
}

/**
 * Renders a kustomization directory (relative to the repository root) with `kubectl kustomize`.
 *
 * @throws Error naming the missing tool and how to install it when kubectl is not there, or kubectl's own
 *   message when the kustomization does not build.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const kubectl = kubectlBinary();
  const result = spawnSync(kubectl, ['kustomize', path.join(REPO_ROOT, dir)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(
        `renderKustomization: '${kubectl}' not found. The manifest checks need kubectl (its built-in kustomize; ` +
          'no cluster): apt-get install -y kubernetes-client (.ci/run does), or set SUPWALSH_KUBECTL to its path.'
      );
    }
    throw new Error(`renderKustomization: running ${kubectl} kustomize ${dir} failed: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new Error(`renderKustomization: ${kubectl} kustomize ${dir} exited ${result.status}:\n${result.stderr}`);
  }
  return parseManifests(result.stdout);
}

/** Parses a multi-document YAML stream into objects, skipping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`parseManifests: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || !('kind' in value) || !('apiVersion' in value)) {
      throw new Error(`parseManifests: a document is not a Kubernetes object: ${JSON.stringify(value).slice(0, 200)}`);
    }
    objects.push(value as K8sObject);
  }
  return objects;
}

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

/**
 * Validates one object against its API schema: the `kubernetes-models` class for its apiVersion and kind.
 *
 * @throws Error for an apiVersion or kind the schemas do not know, or the schema's first violations.
 */
export async function validateObject(object: K8sObject): Promise<void> {
  const where = `${object.apiVersion} ${object.kind} ${object.metadata?.name ?? '(no name)'}`;
  let group: Record<string, unknown>;
  try {
    group = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`validateObject: unknown apiVersion '${object.apiVersion}' (${where})`, { cause: error });
  }
  const model = group[object.kind] as ModelClass | undefined;
  if (typeof model !== 'function' || model.kind !== object.kind || model.apiVersion !== object.apiVersion) {
    throw new Error(`validateObject: unknown kind '${object.kind}' in ${object.apiVersion} (${where})`);
  }
  try {
    new model(object).validate();
  } catch (error) {
    throw new Error(`validateObject: ${where} does not match the API schema: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
