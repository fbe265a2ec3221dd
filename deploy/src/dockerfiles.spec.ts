import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  dockerignoreMatcher,
  parseAssignments,
  parseCopy,
  parseDockerfile,
  stagesOf,
  type Instruction,
} from './dockerfile.js';
import { REPO_ROOT } from './kustomize.js';

const IMAGES = ['coordinator', 'worker-cpu', 'worker-gpu'] as const;
const SERVICE_OF = { coordinator: 'coordinator', 'worker-cpu': 'worker', 'worker-gpu': 'worker' } as const;
const SECRET_NAMES = /TOKEN|PASSWORD|PASSWD|SECRET|_KEY$|APIKEY|CREDENTIAL/i;

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const isIgnored = dockerignoreMatcher(read('.dockerignore'));
const args = (instructions: Instruction[], keyword: string) =>
  instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

describe('the Dockerfile reader', () => {
  it('joins continuation lines, skips comments and splits stages', () => {
    const instructions = parseDockerfile(
      'ARG A=1\n# c\nFROM base:1 AS build\nRUN a \\\n  # inside\n  && b\nCOPY --from=build --chown=1:1 /x /y ./\nFROM scratch\n'
    );
    expect(instructions.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ['ARG', 'A=1', 1],
      ['FROM', 'base:1 AS build', 3],
      ['RUN', 'a && b', 4],
      ['COPY', '--from=build --chown=1:1 /x /y ./', 7],
      ['FROM', 'scratch', 8],
    ]);
    const stages = stagesOf(instructions);
    expect(stages.map((s) => [s.from, s.name, s.instructions.length])).toEqual([
      ['base:1', 'build', 2],
      ['scratch', undefined, 0],
    ]);
    expect(parseCopy(stages[0]!.instructions[1]!.args)).toEqual({
      flags: { from: 'build', chown: '1:1' },
      sources: ['/x', '/y'],
      destination: './',
    });
    expect(parseCopy('["a b", "c"]')).toEqual({ flags: {}, sources: ['a b'], destination: 'c' });
    expect(parseAssignments('A=1 B="two words" C')).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'two words' },
      { name: 'C', value: undefined },
    ]);
  });

  it('reads .dockerignore patterns as Docker does (parents, **, exceptions)', () => {
    const ignored = dockerignoreMatcher('**/node_modules\n*.log\nsecrets\n!secrets/public\n');
    expect(ignored('node_modules/x/index.js')).toBe(true);
    expect(ignored('libs/a/node_modules')).toBe(true);
    expect(ignored('a.log')).toBe(true);
    expect(ignored('libs/a.log')).toBe(false);
    expect(ignored('secrets/key')).toBe(true);
    expect(ignored('secrets/public')).toBe(false);
    expect(ignored('libs/a/src/index.ts')).toBe(false);
  });
});

describe.each(IMAGES)('deploy/docker/Dockerfile.%s', (image) => {
  const file = `deploy/docker/Dockerfile.${image}`;
  const instructions = parseDockerfile(read(file));
  const stages = stagesOf(instructions);
  const final = stages[stages.length - 1]!;
  const service = SERVICE_OF[image];

  it('is a multi-stage build on tagged base images', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of stages) {
      expect(stage.from, 'no untagged or :latest base').toMatch(/:(?!latest$)[^/]+$|^\$\{[A-Z_]+\}/);
    }
    const globalArgs = new Map(
      instructions
        .slice(
          0,
          instructions.findIndex((i) => i.keyword === 'FROM')
        )
        .flatMap((i) => parseAssignments(i.args).map((a) => [a.name, a.value] as const))
    );
    for (const stage of stages) {
      const variable = /^\$\{([A-Z_]+)\}/.exec(stage.from)?.[1];
      if (variable) expect(globalArgs.get(variable), `${stage.from} has a default`).toMatch(/:/);
    }
  });

  it('copies only paths that exist in the repository and that .dockerignore keeps', () => {
    for (const instruction of instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
      const copy = parseCopy(instruction.args);
      if (copy.flags['from'] !== undefined) {
        const known = stages.map((s) => s.name);
        expect(known, `line ${instruction.line}: --from=${copy.flags['from']}`).toContain(copy.flags['from']);
        continue;
      }
      for (const source of copy.sources) {
        expect(fs.existsSync(path.join(REPO_ROOT, source)), `line ${instruction.line}: ${source} exists`).toBe(true);
        if (source !== '.') expect(isIgnored(source), `line ${instruction.line}: ${source} not ignored`).toBe(false);
      }
    }
  });

  it('sends the build what it compiles and runs (a build-context check)', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      `services/${service}/package.json`,
      `services/${service}/tsconfig.json`,
      `services/${service}/src/main.ts`,
      'libs/proto/src/gen',
      'proto/supwalsh/v1/coordinator.proto',
      'deploy/docker/stage-runtime.sh',
    ];
    for (const entry of needed) {
      expect(fs.existsSync(path.join(REPO_ROOT, entry)), `${entry} exists`).toBe(true);
      expect(isIgnored(entry), `${entry} is in the build context`).toBe(false);
    }
    for (const entry of ['node_modules/x', 'libs/walsh/dist/index.js', '.git/HEAD', 'pki/ca.key', 'x/tls.key']) {
      expect(isIgnored(entry), `${entry} stays out of the build context`).toBe(true);
    }
    for (const script of read(file).match(/deploy\/docker\/[\w.-]+\.sh/g) ?? []) {
      expect(fs.statSync(path.join(REPO_ROOT, script)).mode & 0o111, `${script} is executable`).not.toBe(0);
    }
  });

  it('compiles the service and installs only its production dependencies', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.some((r) => r.includes(`tsc -b services/${service}`))).toBe(true);
    const install = runs.find((r) => /npm ci .*--omit=dev/.test(r));
    expect(install, 'npm ci --omit=dev').toBeDefined();
    expect(install).toContain(`--workspace services/${service}`);
  });

  it('runs the service as a numeric non-root user, with a gRPC health check and the health port', () => {
    const users = args(final.instructions, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!;
    expect(user, 'numeric, so Kubernetes runAsNonRoot can check it').toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    const healthchecks = args(final.instructions, 'HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    expect(healthchecks[0]).toContain('/app/health-probe.mjs');
    const copies = args(final.instructions, 'COPY').map(parseCopy);
    expect(copies).toContainEqual({
      flags: {},
      sources: ['deploy/docker/health-probe.mjs'],
      destination: './health-probe.mjs',
    });
    expect(final.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    // The probe imports @grpc/grpc-js and grpc-health-check: production dependencies of the service.
    const pkg = JSON.parse(read(`services/${service}/package.json`)) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['@grpc/grpc-js', 'grpc-health-check']));
    const env = new Map(
      args(final.instructions, 'ENV').flatMap((a) => parseAssignments(a).map((v) => [v.name, v.value] as const))
    );
    expect(env.get('SUPWALSH_HEALTH_LISTEN')).toBe('0.0.0.0:8081');
    expect(env.get('SUPWALSH_PROTO_DIR')).toBe('/app/proto');
    expect(args(final.instructions, 'EXPOSE').join(' ').split(/\s+/)).toEqual(expect.arrayContaining(['8081', '9464']));
  });

  it('starts the compiled service main', () => {
    const entrypoint = args(final.instructions, 'ENTRYPOINT');
    expect(entrypoint).toEqual([`["node", "/app/services/${service}/dist/main.js"]`]);
    expect(fs.existsSync(path.join(REPO_ROOT, `services/${service}/src/main.ts`))).toBe(true);
  });

  it('bakes no token, key or password into ENV or ARG', () => {
    for (const instruction of instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      for (const { name, value } of parseAssignments(instruction.args)) {
        if (SECRET_NAMES.test(name)) expect(value ?? '', `line ${instruction.line}: ${name}`).toBe('');
      }
    }
    expect(read(file)).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY|Bearer /);
  });
});

describe('deploy/docker/Dockerfile.worker-gpu', () => {
  const text = read('deploy/docker/Dockerfile.worker-gpu');

  it('runs on the CUDA 11.2 / cuDNN 8 runtime that libtensorflow 2.9.1 (tfjs-node-gpu 4.22.0) is built for', () => {
    expect(text).toMatch(/ARG CUDA_IMAGE=nvidia\/cuda:11\.2\.\d+-cudnn8-runtime-ubuntu20\.04/);
    const engine = JSON.parse(read('libs/engine/package.json')) as { optionalDependencies: Record<string, string> };
    expect(engine.optionalDependencies['@tensorflow/tfjs-node-gpu']).toBe('4.22.0');
    expect(text).toContain('npm rebuild @tensorflow/tfjs-node-gpu');
    expect(text).toMatch(/ls node_modules\/@tensorflow\/tfjs-node-gpu\/lib\/napi-v\*\/tfjs_binding\.node/);
  });
});
