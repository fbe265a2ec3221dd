import type { Metadata } from '@grpc/grpc-js';
import {
  credentials,
  makeGenericClientConstructor,
  Server,
  ServerCredentials,
  status,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { createTracingClientInterceptor, createTracingServerInterceptor, isInfrastructureRpc } from './grpc.js';
import { createTelemetryCapture, startTelemetry, type Telemetry } from './node.js';
import { getTracer, withSpan } from './index.js';

interface EchoRequest {
  text: string;
  /** Answer with this gRPC status code instead of OK. */
  fail?: number;
}

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString('utf8')),
};

/** A unary and a server-streaming method with JSON messages (no generated code needed). */
const ECHO_SERVICE: ServiceDefinition = {
  echo: {
    path: '/test.v1.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
  repeat: {
    path: '/test.v1.Echo/Repeat',
    requestStream: false,
    responseStream: true,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};
const EchoClient = makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

describe('gRPC tracing interceptors over a loopback call', () => {
  const capture = createTelemetryCapture();
  let telemetry: Telemetry;
  let server: Server;
  let client: InstanceType<typeof EchoClient>;
  /** Metadata the server saw. */
  let seen: Metadata[] = [];

  beforeAll(async () => {
    telemetry = await startTelemetry({
      serviceName: 'supwalsh-test',
      env: { SUPWALSH_METRICS_PORT: '0' },
      spanExporter: capture.spanExporter,
    });
    server = new Server({ interceptors: [createTracingServerInterceptor()] });
    server.addService(ECHO_SERVICE, {
      // The handler's own spans, started after an await, must be children of the RPC's server span.
      echo: (
        call: { request: EchoRequest; metadata: Metadata },
        callback: (e: Partial<ServiceError> | null, r?: unknown) => void
      ) => {
        seen.push(call.metadata);
        void withSpan(getTracer(), 'handler', {}, async () => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          return withSpan(getTracer(), 'handler.inner', {}, () => Promise.resolve());
        }).then(() =>
          call.request.fail
            ? callback({ code: call.request.fail, details: `failed with ${call.request.fail}` })
            : callback(null, { text: call.request.text })
        );
      },
      repeat: (call: { request: EchoRequest; write(m: unknown): void; end(): void }) => {
        withSpan(getTracer(), 'handler', {}, async () => {
          for (let i = 0; i < 3; i++) call.write({ text: call.request.text });
          call.end();
        }).catch(() => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
    );
    client = new EchoClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
      interceptors: [createTracingClientInterceptor()],
    });
  });

  afterAll(async () => {
    client?.close();
    await new Promise<void>((resolve) => server?.tryShutdown(() => resolve()));
    await telemetry?.shutdown();
  });

  beforeEach(() => {
    capture.spanExporter.reset();
    seen = [];
  });

  const echo = (request: EchoRequest) =>
    new Promise<{ error: ServiceError | null }>((resolve) =>
      (client as unknown as Record<string, (r: EchoRequest, cb: (e: ServiceError | null) => void) => void>)[
        'echo'
      ]!.call(client, request, (error) => resolve({ error }))
    );

  const byName = (name: string, kind?: SpanKind) =>
    capture.spans().find((s) => s.name === name && (kind === undefined || s.kind === kind));

  it('carries the trace from the caller through client and server spans into the handler', async () => {
    await withSpan(getTracer(), 'caller', {}, () => echo({ text: 'hi' }));
    const caller = byName('caller')!;
    const clientSpan = byName('test.v1.Echo/Echo', SpanKind.CLIENT)!;
    const serverSpan = byName('test.v1.Echo/Echo', SpanKind.SERVER)!;
    const handler = byName('handler')!;
    const inner = byName('handler.inner')!;
    const traceId = caller.spanContext().traceId;
    for (const s of [clientSpan, serverSpan, handler, inner]) expect(s.spanContext().traceId).toBe(traceId);
    expect(clientSpan.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.isRemote).toBe(true);
    expect(handler.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(inner.parentSpanContext?.spanId).toBe(handler.spanContext().spanId);
    // The W3C header on the wire names the client span.
    const traceparent = seen[0]?.get('traceparent')[0];
    expect(traceparent).toBe(`00-${traceId}-${clientSpan.spanContext().spanId}-01`);
    expect(serverSpan.attributes).toEqual({
      'rpc.system.name': 'grpc',
      'rpc.system': 'grpc',
      'rpc.service': 'test.v1.Echo',
      'rpc.method': 'test.v1.Echo/Echo',
      'rpc.status_code': 'OK',
      'rpc.grpc.status_code': 0,
    });
    expect(serverSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(clientSpan.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('starts a new trace on the server when the caller sends no traceparent', async () => {
    const plain = new EchoClient(
      client
        .getChannel()
        .getTarget()
        .replace(/^ipv4:/, ''),
      credentials.createInsecure()
    );
    try {
      await new Promise<void>((resolve) =>
        (plain as unknown as Record<string, (r: EchoRequest, cb: () => void) => void>)['echo']!.call(
          plain,
          { text: 'x' },
          () => resolve()
        )
      );
    } finally {
      plain.close();
    }
    const serverSpan = byName('test.v1.Echo/Echo', SpanKind.SERVER)!;
    expect(serverSpan.parentSpanContext).toBeUndefined();
    expect(byName('handler')?.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
  });

  it('maps status codes: server errors only for server-side faults, every non-OK code on the client', async () => {
    const { error: unavailable } = await echo({ text: 'x', fail: status.UNAVAILABLE });
    expect(unavailable?.code).toBe(status.UNAVAILABLE);
    for (const kind of [SpanKind.SERVER, SpanKind.CLIENT]) {
      const span = byName('test.v1.Echo/Echo', kind)!;
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'failed with 14' });
      expect(span.attributes).toMatchObject({
        'rpc.status_code': 'UNAVAILABLE',
        'rpc.grpc.status_code': 14,
        'error.type': 'UNAVAILABLE',
      });
    }
    capture.spanExporter.reset();
    const { error: notFound } = await echo({ text: 'x', fail: status.NOT_FOUND });
    expect(notFound?.code).toBe(status.NOT_FOUND);
    const serverSpan = byName('test.v1.Echo/Echo', SpanKind.SERVER)!;
    expect(serverSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(serverSpan.attributes['rpc.status_code']).toBe('NOT_FOUND');
    expect(byName('test.v1.Echo/Echo', SpanKind.CLIENT)!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('leaves out the paths `ignore` names (by default health checks and reflection)', async () => {
    expect(isInfrastructureRpc('/grpc.health.v1.Health/Check')).toBe(true);
    expect(isInfrastructureRpc('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo')).toBe(true);
    expect(isInfrastructureRpc('/supwalsh.v1.Worker/StartShard')).toBe(false);
    const untraced = new EchoClient(
      client
        .getChannel()
        .getTarget()
        .replace(/^ipv4:/, ''),
      credentials.createInsecure(),
      {
        interceptors: [createTracingClientInterceptor({ ignore: (path) => path === '/test.v1.Echo/Echo' })],
      }
    );
    try {
      await new Promise<void>((resolve) =>
        (untraced as unknown as Record<string, (r: EchoRequest, cb: () => void) => void>)['echo']!.call(
          untraced,
          { text: 'x' },
          () => resolve()
        )
      );
    } finally {
      untraced.close();
    }
    expect(byName('test.v1.Echo/Echo', SpanKind.CLIENT)).toBeUndefined();
    expect(byName('test.v1.Echo/Echo', SpanKind.SERVER)).toBeDefined();
  });

  it('traces a server stream as one span per call, the handler inside it', async () => {
    await withSpan(getTracer(), 'caller', {}, async () => {
      const stream = (client as unknown as Record<string, (r: EchoRequest) => NodeJS.ReadableStream>)['repeat']!.call(
        client,
        { text: 'a' }
      );
      let n = 0;
      for await (const _ of stream) n++;
      expect(n).toBe(3);
    });
    await new Promise((resolve) => setTimeout(resolve, 10)); // the client span ends with the status, after the data
    const serverSpan = byName('test.v1.Echo/Repeat', SpanKind.SERVER)!;
    const clientSpan = byName('test.v1.Echo/Repeat', SpanKind.CLIENT)!;
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(byName('handler')?.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
