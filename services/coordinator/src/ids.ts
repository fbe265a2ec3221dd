import { randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** `length` random characters from the lowercase RFC 4648 base32 alphabet. */
export function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i += 1) out += BASE32[(bytes[i] ?? 0) & 31];
  return out;
}

/** A new experiment id: `exp-` + 12 random lowercase base32 characters (PROTOCOL.md, Ids). */
export function newExperimentId(): string {
  return `exp-${randomBase32(12)}`;
}

/** Run id of run `index` of an experiment: `<experiment id>.r<index>` (PROTOCOL.md, Ids). */
export function runIdOf(experimentId: string, index: number): string {
  return `${experimentId}.r${index}`;
}

/** A new artifact id (ArtifactInfo.id: 1–128 characters from [A-Za-z0-9._-]). */
export function newArtifactId(): string {
  return `art-${randomBase32(16)}`;
}

/** A new worker lease id (RegisterWorkerResponse.lease_id). */
export function newLeaseId(): string {
  return `lease-${randomBase32(16)}`;
}

/** A new coordinator instance id (RegisterWorkerResponse.coordinator_instance_id), one per process start. */
export function newInstanceId(): string {
  return randomBase32(16);
}
