import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lacks } from '../../vitest.shared.js';
import { kubectlBinary, parseManifests, REPO_ROOT, validateObject } from './kustomize.js';

const GUIDE = fs.readFileSync(path.join(REPO_ROOT, 'deploy/README.md'), 'utf8');

/** Every fenced sh block of the guide. */
const shellBlocks = [...GUIDE.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** The sh block right after `<!-- check: NAME -->`. */
function checkedBlock(name: string): string {
  const match = new RegExp(`<!-- check: ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(GUIDE);
  if (!match) throw new Error(`deploy/README.md has no sh block marked <!-- check: ${name} -->`);
  return match[1]!;
}

/** The commands of a block, continuation lines joined. */
const commandsOf = (block: string) =>
  block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter(Boolean);

describe('the operator guide (deploy/README.md)', () => {
  it('names only kustomizations, Dockerfiles and specs that exist', () => {
    const commands = shellBlocks.flatMap(commandsOf);
    const kustomizations = commands.flatMap((c) => [...c.matchAll(/kubectl (?:kustomize|apply -k) (\S+)/g)]);
    expect(kustomizations.length).toBeGreaterThanOrEqual(3);
    for (const [, dir] of kustomizations) {
      expect(fs.existsSync(path.join(REPO_ROOT, dir!, 'kustomization.yaml')), dir).toBe(true);
    }
    const dockerfiles = commands.flatMap((c) => [...c.matchAll(/docker build -f (\S+)/g)]);
    expect(dockerfiles).toHaveLength(3);
    for (const [, file] of dockerfiles) expect(fs.existsSync(path.join(REPO_ROOT, file!)), file).toBe(true);
    for (const [, spec] of commands.flatMap((c) => [...c.matchAll(/--spec (\S+)/g)])) {
      expect(fs.existsSync(path.join(REPO_ROOT, spec!)), spec).toBe(true);
    }
    // Every overlay is rendered somewhere in the guide's text.
    for (const overlay of ['gpu', 'cpu', 'dev'])
      expect(GUIDE).toContain(`kubectl kustomize deploy/k8s/overlays/${overlay}`);
  });

  describe.skipIf(lacks('openssl'))('certificates and Secrets', () => {
    let dir = '';
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'supwalsh-pki-'));
      execFileSync('bash', ['-euo', 'pipefail', '-c', checkedBlock('pki')], { cwd: dir, stdio: 'pipe' });
    });
    afterAll(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('makes a CA and one certificate for the coordinator and every worker, for server and client use', () => {
      const pki = path.join(dir, 'pki');
      const ca = new X509Certificate(fs.readFileSync(path.join(pki, 'ca.crt')));
      const cert = new X509Certificate(fs.readFileSync(path.join(pki, 'tls.crt')));
      expect(ca.ca).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      for (const host of [
        'supwalsh-coordinator',
        'supwalsh-coordinator.supwalsh.svc.cluster.local',
        'supwalsh-worker-0.supwalsh-worker.supwalsh.svc.cluster.local',
        'supwalsh-worker-17.supwalsh-worker.supwalsh.svc.cluster.local',
        'localhost',
      ]) {
        expect(cert.checkHost(host), host).toBeDefined(); // the matching name (the wildcard for workers)
      }
      expect(cert.checkHost('supwalsh-worker-0.supwalsh-worker.other.svc.cluster.local')).toBeUndefined();
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      // Extended key usage: serverAuth and clientAuth (workers present it to the coordinator and to each other).
      expect(cert.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
      const tokens = fs.readFileSync(path.join(pki, 'tokens'), 'utf8').trim().split('\n');
      expect(tokens).toHaveLength(1);
      expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/);
    });

    it.skipIf(lacks('kubectl'))(
      'creates the namespace and the Secrets the manifests reference (rendered with --dry-run=client)',
      async () => {
        const created = new Map<string, Record<string, unknown>>();
        for (const command of commandsOf(checkedBlock('secrets'))) {
          const argv = command.split(/\s+/);
          expect(argv.slice(0, 1), command).toEqual(['kubectl']);
          const result = spawnSync(kubectlBinary(), [...argv.slice(1), '--dry-run=client', '-o', 'yaml'], {
            cwd: dir,
            encoding: 'utf8',
            env: { ...process.env, KUBECONFIG: path.join(dir, 'no-kubeconfig') },
          });
          if (result.error) throw new Error(`${kubectlBinary()}: ${result.error.message} (is kubectl installed?)`);
          expect(result.status, `${command}\n${result.stderr}`).toBe(0);
          for (const object of parseManifests(result.stdout)) {
            await validateObject(object);
            created.set(`${object.kind}/${object.metadata.name}`, object);
          }
        }
        expect([...created.keys()].sort()).toEqual([
          'Namespace/supwalsh',
          'Secret/supwalsh-tls',
          'Secret/supwalsh-token',
        ]);
        const data = (key: string) => Object.keys((created.get(key) as { data: object }).data).sort();
        expect(data('Secret/supwalsh-tls')).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
        expect(data('Secret/supwalsh-token')).toEqual(['tokens']);
        for (const key of ['Secret/supwalsh-tls', 'Secret/supwalsh-token']) {
          expect((created.get(key) as { metadata: { namespace: string } }).metadata.namespace).toBe('supwalsh');
        }
      }
    );
  });
});
