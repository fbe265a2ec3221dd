import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUIREMENTS } from '../../../vitest.shared.js';
import { deadMarkdownLinks, relativeLinks } from './markdown-links.js';
import { readWorkspaceGraph, WORKSPACE_ROOT, type WorkspaceGraph } from './workspace-graph.js';

/**
 * Dependencies point downwards only (ARCHITECTURE.md): a project may depend on projects of a strictly lower
 * layer. `base` (walsh, tsne, proto) depends on nothing of ours.
 */
const LAYER_RANK: Record<string, number> = {
  'layer:base': 0,
  'layer:engine': 1,
  'layer:compute': 2,
  'layer:method': 3,
  'layer:bridge': 4,
  'layer:service': 5,
  'layer:ui': 6, // the dashboard page: chart specs from report below it, served by the coordinator above it
  'layer:control': 7,
  'layer:tool': 8,
};

/** Compute libraries never reach the network or the OpenTelemetry SDK (STYLE.md). */
const COMPUTE_PROJECTS = ['walsh', 'tsne', 'engine', 'models', 'datasets', 'method'];
const FORBIDDEN_IN_COMPUTE = /^(@grpc\/|@supwalsh\/proto$|@opentelemetry\/sdk)/;

function layerOf(graph: WorkspaceGraph, name: string): number {
  const tags = graph.projects.get(name)?.tags.filter((t) => t in LAYER_RANK) ?? [];
  if (tags.length !== 1) throw new Error(`project ${name} must have exactly one layer:* tag, has [${tags.join(', ')}]`);
  return LAYER_RANK[tags[0]!]!;
}

/** The test files of every project (not node_modules or build output). */
function specFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(WORKSPACE_ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory() && !['node_modules', 'dist', '.nx', '.git'].includes(entry.name)) walk(rel);
      else if (entry.isFile() && entry.name.endsWith('.spec.ts')) out.push(rel);
    }
  };
  for (const top of ['libs', 'services', 'tools', 'deploy']) walk(top);
  return out;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(WORKSPACE_ROOT, file), 'utf8')) as Record<string, unknown>;
}

describe('the workspace', () => {
  let graph: WorkspaceGraph;
  beforeAll(() => {
    graph = readWorkspaceGraph();
  });

  it('lists every package of the npm workspaces as an Nx project with build, test and lint targets', () => {
    expect(graph.projects.size).toBeGreaterThanOrEqual(4);
    for (const project of graph.projects.values()) {
      expect(project.targets, project.name).toEqual(expect.arrayContaining(['build', 'test', 'lint']));
      const pkg = readJson(path.join(project.root, 'package.json'));
      expect(pkg['name'], project.root).toMatch(/^@supwalsh\//);
    }
  });

  it('has dependencies that point only to lower layers', () => {
    for (const [name, deps] of graph.dependencies) {
      for (const dep of deps) {
        expect(layerOf(graph, dep), `${name} → ${dep}`).toBeLessThan(layerOf(graph, name));
      }
    }
  });

  it('keeps gRPC, generated protos and the OpenTelemetry SDK out of the compute libraries', () => {
    for (const name of COMPUTE_PROJECTS) {
      const project = graph.projects.get(name);
      if (!project) continue; // not written yet
      const pkg = readJson(path.join(project.root, 'package.json'));
      const deps = Object.keys({ ...(pkg['dependencies'] as object), ...(pkg['optionalDependencies'] as object) });
      expect(
        deps.filter((d) => FORBIDDEN_IN_COMPUTE.test(d)),
        name
      ).toEqual([]);
    }
  });

  it('documents every project with a README and a module comment on its entry point', () => {
    for (const project of graph.projects.values()) {
      expect(fs.existsSync(path.join(WORKSPACE_ROOT, project.root, 'README.md')), `${project.root}/README.md`).toBe(
        true
      );
      const entry = path.join(WORKSPACE_ROOT, project.root, 'src', 'index.ts');
      if (fs.existsSync(entry)) expect(fs.readFileSync(entry, 'utf8'), entry).toMatch(/^\/\*\*[\s\S]*?@module/);
    }
  });

  it('runs in CI exactly the test command the README gives', () => {
    const readme = fs.readFileSync(path.join(WORKSPACE_ROOT, 'README.md'), 'utf8');
    const ci = fs.readFileSync(path.join(WORKSPACE_ROOT, '.ci', 'run'), 'utf8');
    const match = /<!-- test-command -->\s*```(?:sh|bash)\n(.+)\n```/.exec(readme);
    expect(match, 'README must mark its test command with <!-- test-command -->').not.toBeNull();
    expect(ci).toContain(match![1]!.trim());
  });

  it('never lets Nx reach a cloud service', () => {
    expect(readJson('nx.json')['neverConnectToCloud']).toBe(true);
    expect(readJson('nx.json')['nxCloudId']).toBeUndefined();
  });

  it('has no relative link in any Markdown file that leads nowhere or out of the repository', () => {
    const dead = deadMarkdownLinks(WORKSPACE_ROOT).map((d) => `${d.file}:${d.line} ${d.target} (${d.reason})`);
    expect(dead).toEqual([]);
  });

  it('installs in CI every Debian package a test may need, except PyTorch', () => {
    const ci = fs.readFileSync(path.join(WORKSPACE_ROOT, '.ci', 'run'), 'utf8');
    for (const [name, { install }] of Object.entries(REQUIREMENTS)) {
      if (name === 'torch' || name === 'tar') continue; // torch: fixtures and benchmarks only; tar: in every base image
      const pkg = install.replace('apt-get install ', '');
      expect(ci, `.ci/run installs ${pkg}`).toMatch(new RegExp(`apt_packages\\+=\\(${pkg}\\)`));
    }
    expect(ci).toMatch(/^export SUPWALSH_REQUIRE_ALL_TESTS=1$/m);
  });

  it('skips tests only through the shared helper (vitest.shared.js: lacks)', () => {
    const specs = specFiles();
    const adHoc = specs.filter((file) => {
      const text = fs.readFileSync(path.join(WORKSPACE_ROOT, file), 'utf8');
      return /\.(?:skipIf|runIf)\((?!lacks\(|no[A-Z]\w*\))/.test(text) || /existsSync\('\/usr\/share/.test(text);
    });
    expect(adHoc).toEqual([]);
  });

  it('links its own design document from the README', () => {
    const readme = fs.readFileSync(path.join(WORKSPACE_ROOT, 'README.md'), 'utf8');
    expect(relativeLinks(readme).map((l) => l.target)).toContain('docs/ARCHITECTURE.md');
  });
});

describe('relativeLinks', () => {
  it('finds inline links, images and reference definitions, and skips URLs, anchors and code', () => {
    const text = [
      'See [the guide](deploy/README.md#images "title") and ![plot](plots/a.svg).',
      '[web](https://example.com) [top](#top) [mail](mailto:a@b.c) `[code](nope.md)`',
      '```',
      '[fenced](nope.md)',
      '```',
      '[ref]: ../outside.md',
    ].join('\n');
    expect(relativeLinks(text)).toEqual([
      { line: 1, target: 'deploy/README.md#images' },
      { line: 1, target: 'plots/a.svg' },
      { line: 6, target: '../outside.md' },
    ]);
  });
});
