import type http2 from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/**
 * Raises the HTTP/2 flow-control windows of every connection a grpc-js server accepts from now on. Call it
 * before `bindAsync`. Returns false (and changes nothing) where this grpc-js version does not allow it.
 *
 * Why: a client-streaming call is paced by the *receiver's* windows, and grpc-js has a channel option for the
 * client side (`grpc-node.flow_control_window`) but none for servers, whose 64 KiB defaults cap a stream far
 * below the socket (NOTES-transport.md: ≈ 450 MB/s vs ≈ 1 600 MB/s with 2 MiB windows).
 *
 * How: grpc-js 1.14 creates one `http2.Http2Server` per bound address in its (TypeScript-private) method
 * `createHttp2Server`. This wraps that method on this one server instance, so that each new HTTP/2 session
 * (a) sends SETTINGS_INITIAL_WINDOW_SIZE = `windowBytes` (per-stream window; RFC 9113 §6.9.2 applies it to
 * open streams too) with the public `session.settings()`, and (b) raises the connection window with the public
 * `session.setLocalWindowSize()`, exactly as grpc-js does for its own client sessions. Only this server is
 * affected; nothing global is patched.
 */
export function raiseServerFlowControlWindow(server: Server, windowBytes: number): boolean {
  const internals = server as unknown as { createHttp2Server?: (this: Server, ...args: unknown[]) => unknown };
  const original = internals.createHttp2Server;
  if (typeof original !== 'function') return false;
  internals.createHttp2Server = function (this: Server, ...args: unknown[]) {
    const http2Server = original.apply(this, args) as http2.Http2Server;
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: windowBytes });
        session.setLocalWindowSize(windowBytes);
      } catch {
        // a session that is already closing: nothing to tune
      }
    });
    return http2Server;
  };
  return true;
}
