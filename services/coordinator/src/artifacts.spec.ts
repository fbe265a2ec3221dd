import { ArtifactKind } from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { artifactAbsolutePath, artifactRelativePath, validateArtifactName } from './artifacts.js';
import { InvalidArgumentError } from './errors.js';

describe('artifact names and paths', () => {
  it('accepts a plain file name', () => {
    for (const name of ['model.json', 'group1-shard1of1.bin', 'run-result.json', '.hidden', 'shards/part_1.bin']) {
      expect(() => validateArtifactName(name)).not.toThrow();
    }
  });

  it('rejects names that are absolute, climb out, hold more than one directory or other characters', () => {
    for (const name of [
      '',
      'a/',
      '/a',
      './a',
      'a/.',
      '../x',
      '..',
      '/etc/passwd',
      'a/../b',
      'a/b/c',
      'a\\b',
      'C:x',
      'a//b',
      'sp ace',
      'x'.repeat(256),
    ]) {
      expect(() => validateArtifactName(name, 'header.name'), name).toThrow(InvalidArgumentError);
    }
  });

  it('keeps each run kind in its own directory and experiment files apart', () => {
    expect(artifactRelativePath('exp-a', 'exp-a.r0', ArtifactKind.ARTIFACT_KIND_WEIGHTS, 'model.json')).toBe(
      'exp-a/exp-a.r0/weights/model.json'
    );
    expect(artifactRelativePath('exp-a', 'exp-a.r0', ArtifactKind.ARTIFACT_KIND_INITIAL_WEIGHTS, 'model.json')).toBe(
      'exp-a/exp-a.r0/initial-weights/model.json'
    );
    expect(artifactRelativePath('exp-a', '', ArtifactKind.ARTIFACT_KIND_REPORT, 'report.md')).toBe(
      'exp-a/_experiment/report.md'
    );
    expect(() => artifactAbsolutePath('/data/artifacts', '../escape')).toThrow(InvalidArgumentError);
  });
});
