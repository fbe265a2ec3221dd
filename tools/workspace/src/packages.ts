import fs from 'node:fs';
import path from 'node:path';
import { WORKSPACE_ROOT } from './workspace-graph.js';

/**
 * The workspace packages published to npm (lowest first): the SDK, the light CLI and what they depend on. Everything
 * else stays `private` (the services carry TF.js and better-sqlite3; the tools are the workspace's own).
 */
export const PUBLISHED_PACKAGES = [
  'libs/proto',
  'libs/security',
  'libs/telemetry',
  'libs/spec',
  'libs/sdk',
  'libs/cli',
] as const;

/** The fields of a package.json these checks read. */
export interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly license?: string;
  readonly types?: string;
  readonly files?: string[];
  readonly engines?: { node?: string };
  readonly bin?: Record<string, string>;
  readonly exports?: Record<string, { types?: string; import?: string }>;
  readonly dependencies?: Record<string, string>;
  readonly devDependencies?: Record<string, string>;
}

/** The package.json of a workspace directory (`libs/sdk`). */
export function readPackage(dir: string): PackageManifest {
  return JSON.parse(fs.readFileSync(path.join(WORKSPACE_ROOT, dir, 'package.json'), 'utf8')) as PackageManifest;
}
