import { status } from '@grpc/grpc-js';
import type { SubmitExperimentRequest, SubmitExperimentResponse } from '@supwalsh/proto';
import { createTokenSet } from '@supwalsh/security';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinatorAuthPolicy, isAuthConfigured } from './auth-policy.js';
import { minimalSpec, rejection, startTestCoordinator, unary, type TestCoordinator } from './test-support.js';

describe('the queue limit', () => {
  let coordinator: TestCoordinator;

  beforeAll(async () => {
    coordinator = await startTestCoordinator({ maxQueuedExperiments: 2 });
  });

  afterAll(async () => {
    await coordinator.close();
  });

  const submit = (request: Partial<SubmitExperimentRequest>): Promise<SubmitExperimentResponse> =>
    unary(coordinator.client.submitExperiment.bind(coordinator.client), {
      spec: minimalSpec(),
      requestId: '',
      validateOnly: false,
      ...request,
    });

  it('answers RESOURCE_EXHAUSTED with the number once that many experiments are queued, and still takes retries', async () => {
    const first = await submit({ requestId: 'q-1' });
    await submit({ requestId: 'q-2' });
    const full = await rejection(submit({ requestId: 'q-3' }));
    expect(full.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(full.details).toBe(
      'the coordinator already holds 2 queued experiments (--max-queued-experiments 2); retry once some have started'
    );
    // A retry of a stored submission returns it; validation alone stores nothing and is always answered.
    expect((await submit({ requestId: 'q-1' })).experiment?.id).toBe(first.experiment?.id);
    expect((await submit({ validateOnly: true })).experiment?.id).toBe('');
  });
});

describe('the authorization policy', () => {
  const tokens = createTokenSet(['a-token-of-sixteen+']);
  const call = (path: string, token?: string) => ({ path, token, peerCertificate: undefined });

  it('with tokens and no CA: every Coordinator call needs a valid token; health and reflection stay open', () => {
    const policy = createCoordinatorAuthPolicy({ tokens });
    expect(isAuthConfigured({ tokens })).toBe(true);
    expect(isAuthConfigured({})).toBe(false);
    expect(policy(call('/grpc.health.v1.Health/Check'))).toEqual({ allow: true });
    expect(policy(call('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'))).toEqual({ allow: true });
    for (const method of ['SubmitExperiment', 'RegisterWorker', 'UploadArtifact', 'ListWorkers']) {
      const path = `/supwalsh.v1.Coordinator/${method}`;
      expect(policy(call(path, 'a-token-of-sixteen+'))).toEqual({ allow: true });
      const none = policy(call(path));
      expect(none).toMatchObject({ allow: false, code: status.UNAUTHENTICATED });
      expect(none.allow || none.details).toContain('no bearer token was sent');
      const wrong = policy(call(path, 'guess'));
      expect(wrong.allow || wrong.details).toContain('the bearer token is not valid');
      expect(wrong.allow || wrong.details).not.toContain('guess');
    }
  });

  it('with a CA: worker calls need the cluster certificate, a token alone is PERMISSION_DENIED', () => {
    const policy = createCoordinatorAuthPolicy({ tokens, clusterCa: [{} as never] });
    expect(policy(call('/supwalsh.v1.Coordinator/GetExperiment', 'a-token-of-sixteen+'))).toEqual({ allow: true });
    expect(policy(call('/supwalsh.v1.Coordinator/Heartbeat', 'a-token-of-sixteen+'))).toMatchObject({
      allow: false,
      code: status.PERMISSION_DENIED,
    });
    expect(policy(call('/supwalsh.v1.Coordinator/Heartbeat'))).toMatchObject({
      allow: false,
      code: status.UNAUTHENTICATED,
    });
  });
});
