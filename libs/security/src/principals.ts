/**
 * Who a caller is once authenticated (Kubernetes RBAC's model: authenticate every call, then authorize its verb by
 * the caller's role). A bearer token maps to a principal through its token-file line, a client certificate signed
 * by the cluster CA through its subject.
 */

/**
 * What a principal may do:
 * - `client`: submit experiments and read, watch, download and cancel its own;
 * - `worker`: register as a worker, heartbeat, report and upload for the runs it holds (and download their
 *   checkpoints);
 * - `admin`: everything a client may do, on every experiment, and see worker addresses.
 */
export type Role = 'client' | 'worker' | 'admin';

/** Every role, in the order the docs list them. */
export const ROLES: readonly Role[] = ['client', 'worker', 'admin'];

/** An authenticated caller. */
export interface Principal {
  /** Its name: the token file's second field, or the certificate's CN. Experiments record it as their owner. */
  readonly name: string;
  readonly role: Role;
}

/** Whether `value` names a role. */
export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Allowed principal names: printable, no white space (they are stored as owners and shown by the CLI). */
export const PRINCIPAL_NAME = /^[A-Za-z0-9._@:+=-]{1,128}$/;

/** The principal of every caller when the coordinator has no credentials configured (a local or dev cluster). */
export const LOCAL_PRINCIPAL: Principal = Object.freeze({ name: 'local', role: 'admin' });

/**
 * The principal of a client certificate signed by the cluster CA, from its subject (`X509Certificate.subject`,
 * one `KEY=value` per line):
 * - name: the CN (common name); a certificate without a CN is named by its whole subject on one line;
 * - role: an OU (organizational unit) equal to `client`, `worker` or `admin`; otherwise `worker`, since the cluster
 *   certificate is what workers (and the coordinator) present.
 */
export function principalOfCertificateSubject(subject: string): Principal {
  const fields = subject.split('\n').map((line) => {
    const at = line.indexOf('=');
    return [line.slice(0, at).trim(), line.slice(at + 1).trim()] as const;
  });
  const cn = fields.find(([key]) => key === 'CN')?.[1];
  const role = fields.find(([key, value]) => key === 'OU' && isRole(value))?.[1] as Role | undefined;
  return { name: cn || subject.replace(/\n/g, ', '), role: role ?? 'worker' };
}
