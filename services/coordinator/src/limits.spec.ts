import { Metadata, status } from '@grpc/grpc-js';
import type { SubmitExperimentRequest, SubmitExperimentResponse } from '@supwalsh/proto';
import { authorizationOf, createTokenSet } from '@supwalsh/security';
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
  const tokens = createTokenSet([
    { token: 'client-token-0123456789', principal: { name: 'alice', role: 'client' }, bare: false },
    { token: 'worker-token-0123456789', principal: { name: 'pool-a', role: 'worker' }, bare: false },
    { token: 'admin-token-01234567890', principal: { name: 'root', role: 'admin' }, bare: false },
  ]);
  const call = (path: string, token?: string, header?: string) => {
    const metadata = new Metadata();
    if (header !== undefined) metadata.set('authorization', header);
    else if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
    return { path, token, authorization: authorizationOf(metadata), peerCertificate: undefined };
  };
  const path = (method: string) => `/supwalsh.v1.Coordinator/${method}`;

  it('with tokens: every Coordinator call needs a valid token; health and reflection stay open', () => {
    const policy = createCoordinatorAuthPolicy({ tokens });
    expect(isAuthConfigured({ tokens })).toBe(true);
    expect(isAuthConfigured({})).toBe(false);
    expect(policy(call('/grpc.health.v1.Health/Check'))).toEqual({ allow: true });
    expect(policy(call('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo'))).toEqual({ allow: true });
    for (const method of ['SubmitExperiment', 'RegisterWorker', 'UploadArtifact', 'ListWorkers']) {
      const none = policy(call(path(method)));
      expect(none).toMatchObject({ allow: false, code: status.UNAUTHENTICATED });
      expect(none.allow || none.details).toContain('no bearer token was sent');
      const wrong = policy(call(path(method), 'guess'));
      expect(wrong.allow || wrong.details).toContain('the bearer token is not valid');
      expect(wrong.allow || wrong.details).not.toContain('guess');
    }
  });

  it('item 1: a client token is no worker credential; each role calls only its methods', () => {
    const policy = createCoordinatorAuthPolicy({ tokens });
    for (const method of ['RegisterWorker', 'Heartbeat', 'DeregisterWorker', 'ReportProgress', 'UploadArtifact']) {
      const refused = policy(call(path(method), 'client-token-0123456789'));
      expect(refused).toMatchObject({ allow: false, code: status.PERMISSION_DENIED });
      expect(refused.allow || refused.details).toContain('alice has role client');
      expect(policy(call(path(method), 'worker-token-0123456789'))).toEqual({
        allow: true,
        principal: { name: 'pool-a', role: 'worker' },
      });
    }
    for (const method of [
      'SubmitExperiment',
      'GetExperiment',
      'ListExperiments',
      'WatchExperiment',
      'CancelExperiment',
    ]) {
      expect(policy(call(path(method), 'worker-token-0123456789'))).toMatchObject({
        allow: false,
        code: status.PERMISSION_DENIED,
      });
      expect(policy(call(path(method), 'client-token-0123456789'))).toMatchObject({ allow: true });
      expect(policy(call(path(method), 'admin-token-01234567890'))).toMatchObject({ allow: true });
    }
    for (const token of ['client-token-0123456789', 'worker-token-0123456789', 'admin-token-01234567890']) {
      expect(policy(call(path('ListWorkers'), token))).toMatchObject({ allow: true });
      expect(policy(call(path('GetArtifact'), token))).toMatchObject({ allow: true });
    }
  });

  it('with nothing configured every caller is the admin "local"', () => {
    const policy = createCoordinatorAuthPolicy({});
    expect(policy(call(path('RegisterWorker')))).toEqual({ allow: true, principal: { name: 'local', role: 'admin' } });
  });

  it('item 8: a malformed authorization header is named as such, not as "no bearer token was sent"', () => {
    const policy = createCoordinatorAuthPolicy({ tokens });
    const spaced = policy(call(path('GetExperiment'), undefined, 'Bearer client-token-0123456789 extra'));
    expect(spaced).toMatchObject({ allow: false, code: status.UNAUTHENTICATED });
    expect(spaced.allow || spaced.details).toContain('contains white space');
    const basic = policy(call(path('GetExperiment'), undefined, 'Basic abc'));
    expect(basic.allow || basic.details).toContain('must be "Bearer <token>"');
  });

  it('with a CA and no valid certificate: the message says the certificate is missing or not signed by the CA', () => {
    const policy = createCoordinatorAuthPolicy({ tokens, clusterCa: [{} as never] });
    expect(policy(call(path('GetExperiment'), 'client-token-0123456789'))).toMatchObject({ allow: true });
    expect(policy(call(path('Heartbeat'), 'client-token-0123456789'))).toMatchObject({
      allow: false,
      code: status.PERMISSION_DENIED,
    });
    const none = policy(call(path('Heartbeat')));
    expect(none).toMatchObject({ allow: false, code: status.UNAUTHENTICATED });
    expect(none.allow || none.details).toContain('not signed by the cluster CA');
  });
});
