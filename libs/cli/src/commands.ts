import fs from 'node:fs/promises';
import path from 'node:path';
import { ArtifactKind, ExperimentState, runStateToJSON, type Experiment } from '@supwalsh/proto';
import {
  COORDINATOR_ADDRESS_ENV,
  createSupWalshClient,
  DEFAULT_DEADLINES,
  isTerminalState,
  toSupWalshError,
  type SupWalshClient,
  type SupWalshClientOptions,
} from '@supwalsh/sdk';
import { resolveClientToken, TLS_OPTIONS } from '@supwalsh/security';
import { parseSpecText, percent, type ProgressStream } from '@supwalsh/spec';
import { nonNegativeInteger, parseCommandArgs, USAGE_EXIT_CODE, type FlagSpec } from './args.js';
import { CliUsageError } from './errors.js';
import { createEventPrinter, experimentStateName } from './event-printer.js';

/** Where a command writes, what it reads its variables from, and what cancels it. */
export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted by Ctrl-C. */
  readonly signal?: AbortSignal;
}

/** The connection flags every client command takes. */
export const CONNECT_USAGE = `  --coordinator <h:p>    the coordinator (or $SUPWALSH_COORDINATOR)
  --token <token>        bearer token (or $SUPWALSH_TOKEN)
  --token-file <file>    file whose first line is the bearer token (or $SUPWALSH_TOKEN_FILE)
  --tls-ca <file>        TLS, verifying the coordinator against this CA (or $SUPWALSH_TLS_CA)
  --tls                  TLS, verifying the coordinator against the system's root certificates (or $SUPWALSH_TLS=1)
  -h, --help             print this and exit

Every flag --name is also read from $SUPWALSH_NAME (dashes as underscores); a flag wins over its variable.
Exit codes: 0 done, 1 failed (or the experiment did not succeed), 2 usage error.
`;

const SUBMIT_FLAGS_USAGE = `  --out <dir>            where the report is downloaded                         default reports/<spec name>
  --detach               submit, print the experiment id and return`;

/** `supwalsh submit` of the light CLI: a coordinator is required. */
export const SUBMIT_USAGE = `usage: supwalsh submit --spec <file> --coordinator <host:port> [options]

  Submits the spec, follows the experiment to its end with live progress, downloads its report and prints each
  run's final accuracies. (The embedded local cluster — no --coordinator — is @supwalsh/coordinator's:
  nx run coordinator:submit.)

  --spec <file>          experiment spec, YAML or JSON (examples/*.yaml)                      required
${SUBMIT_FLAGS_USAGE}
${CONNECT_USAGE}`;

/** `submit` of the coordinator's CLI, which can also start an embedded local cluster. */
export const LOCAL_SUBMIT_USAGE = `usage: nx run coordinator:submit -- --spec <file> [options]

  --spec <file>          experiment spec, YAML or JSON (examples/*.yaml)                      required
  --coordinator <h:p>    submit to this coordinator (or $${COORDINATOR_ADDRESS_ENV}); without one, an embedded
                         coordinator and --local worker processes run on loopback and stop afterwards
  --local <n>            worker processes of the embedded cluster (each gets cores / n threads) default 2
  --data-dir <dir>       the embedded cluster's store, artifacts and datasets       default .supwalsh/local
${SUBMIT_FLAGS_USAGE} (needs --coordinator)
${CONNECT_USAGE}`;

export const WATCH_USAGE = `usage: supwalsh watch <experiment id> [--after <sequence>] [options]

  Streams the experiment's events until it ends (exit 1 if it failed or was cancelled, or the coordinator stayed
  unreachable: then it prints the last event it got and how to resume after it).
  --after <sequence>     start after this event sequence number                                default 0
  --outage-ms <n>        how long to ride out an unreachable coordinator                  default 120000
${CONNECT_USAGE}`;

export const LIST_USAGE = `usage: supwalsh list [options]

  One line per experiment, newest first: id, state, name, owner, runs, created.
${CONNECT_USAGE}`;

export const CANCEL_USAGE = `usage: supwalsh cancel <experiment id> [--reason <text>] [options]

  --reason <text>        why, stored with the experiment
${CONNECT_USAGE}`;

export const DOWNLOAD_USAGE = `usage: supwalsh download <experiment id> [--out <dir>] [--runs] [options]

  --out <dir>            where to write                                       default reports/<spec name>
  --runs                 also every run's weights and results
${CONNECT_USAGE}`;

const CONNECT_OPTIONS = {
  coordinator: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  tls: { type: 'boolean' },
} as const satisfies Record<string, FlagSpec>;

interface ConnectValues {
  coordinator?: string | undefined;
  token?: string | undefined;
  'token-file'?: string | undefined;
  'tls-ca'?: string | undefined;
  tls?: boolean | undefined;
}

/**
 * SDK options from the connection flags over `io.env`: the token from --token, --token-file, $SUPWALSH_TOKEN or
 * $SUPWALSH_TOKEN_FILE; TLS with --tls-ca or $SUPWALSH_TLS_CA (that CA), or --tls (the system's roots).
 */
export function clientOptions(values: ConnectValues, io: CliIo, address?: string): SupWalshClientOptions {
  const caFile = values['tls-ca'] ?? io.env[TLS_OPTIONS.ca.env];
  const token = values.token ?? resolveClientToken({ tokenFile: values['token-file'], env: io.env });
  return {
    ...(address ? { address } : {}),
    tls: caFile ? { caFile } : values.tls === true,
    ...(token ? { token } : { token: '' }),
  };
}

function connect(values: ConnectValues, io: CliIo): SupWalshClient {
  return createSupWalshClient(clientOptions(values, io, values.coordinator));
}

/** A command's one positional argument, the experiment id, or a usage error. */
function experimentId(command: string, usage: string, positionals: readonly string[], io: CliIo): string | undefined {
  const id = positionals[0];
  if (!id) io.stderr.write(`supwalsh ${command}: the experiment id is missing\n\n${usage}`);
  return id;
}

function ownerLine(experiment: Experiment): string {
  return experiment.owner ? `owner: ${experiment.owner}\n` : '';
}

/** Downloads every experiment-level artifact (report, plots, results) into `outDir`; returns report.md's path. */
export async function downloadReport(
  client: SupWalshClient,
  experiment: Experiment,
  outDir: string
): Promise<string | undefined> {
  await fs.mkdir(outDir, { recursive: true });
  let report: string | undefined;
  for (const artifact of experiment.artifacts) {
    const file = path.join(outDir, path.basename(artifact.name));
    await client.downloadArtifactToFile(artifact.id, file);
    if (artifact.kind === ArtifactKind.ARTIFACT_KIND_REPORT) report = file;
  }
  return report;
}

const percentOrDash = (x: number | undefined): string => (x === undefined ? '-' : percent(x));

/** Each run's state and last epoch's accuracies, from the experiment itself (the light CLI's results). */
export function formatRunResults(experiment: Experiment): string {
  const rows = experiment.runs.map((run) => {
    const last = run.metrics.at(-1);
    return [
      run.label,
      runStateToJSON(run.state).replace('RUN_STATE_', '').toLowerCase(),
      last ? String(last.epoch) : '-',
      percentOrDash(last?.trainAccuracy),
      percentOrDash(last?.testAccuracy),
    ];
  });
  const header = ['RUN', 'STATE', 'EPOCH', 'TRAIN ACC', 'TEST ACC'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return (
    [header, ...rows]
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()
      )
      .join('\n') + '\n'
  );
}

/** An embedded cluster the coordinator's CLI starts for a submit without a coordinator. */
export interface LocalClusterHandle {
  /** `host:port` of its coordinator (plaintext, open, loopback). */
  readonly address: string;
  shutdown(): Promise<void>;
}

/** What the coordinator's CLI adds to {@link submitCommand}. */
export interface SubmitCommandOptions {
  /**
   * Starts the embedded local cluster when no coordinator is given (`--local`, `--data-dir`); without it those
   * flags are unknown and a coordinator is required. May throw {@link CliUsageError} (exit 2).
   */
  readonly startLocalCluster?: (options: {
    workers: number;
    dataDir: string;
    onDashboard: (url: string) => void;
  }) => Promise<LocalClusterHandle>;
  /** Prints the results once the report is in `outDir`. @default {@link formatRunResults} of the experiment */
  readonly printResults?: (experiment: Experiment, outDir: string, io: CliIo) => Promise<void>;
}

/** `submit`: exit code 0 when the experiment succeeded, 1 when it failed or was cancelled, 2 for bad usage. */
export async function submitCommand(
  argv: readonly string[],
  io: CliIo,
  options: SubmitCommandOptions = {}
): Promise<number> {
  const local = options.startLocalCluster;
  const usage = local ? LOCAL_SUBMIT_USAGE : SUBMIT_USAGE;
  const flags = {
    spec: { type: 'string' },
    out: { type: 'string' },
    detach: { type: 'boolean' },
    ...CONNECT_OPTIONS,
    ...(local
      ? { local: { type: 'string', default: '2' }, 'data-dir': { type: 'string', default: '.supwalsh/local' } }
      : {}),
  } as const satisfies Record<string, FlagSpec>;
  const args = parseCommandArgs('submit', usage, argv, flags, io);
  if ('exitCode' in args) return args.exitCode;
  const values = args.values as typeof args.values & { local?: string; 'data-dir'?: string };
  const fail = (reason: string): number => {
    io.stderr.write(`supwalsh submit: ${reason}\n\n${usage}`);
    return USAGE_EXIT_CODE;
  };
  if (!values.spec) return fail('--spec is required');
  const workers = Number(values.local ?? '2');
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    return fail(`--local must be an integer from 1 to 64, got ${values.local}`);
  }
  let address = values.coordinator;
  if (values.detach && !address)
    return fail(`--detach needs a coordinator (--coordinator or $${COORDINATOR_ADDRESS_ENV})`);
  if (!address && !local) {
    return fail(
      `--coordinator (or $${COORDINATOR_ADDRESS_ENV}) is required; the embedded local cluster is @supwalsh/coordinator's (nx run coordinator:submit)`
    );
  }
  const spec = parseSpecText(await fs.readFile(values.spec, 'utf8'), values.spec);
  let cluster: LocalClusterHandle | undefined;
  if (!address && local) {
    const dataDir = path.resolve(values['data-dir'] ?? '.supwalsh/local');
    io.stdout.write(
      `starting a local cluster: coordinator + ${workers} worker process${workers === 1 ? '' : 'es'} (data in ${dataDir})\n`
    );
    try {
      cluster = await local({ workers, dataDir, onDashboard: (url) => io.stdout.write(`dashboard: ${url}\n`) });
    } catch (error: unknown) {
      if (error instanceof CliUsageError) {
        io.stderr.write(`supwalsh submit: ${error.message}\n`);
        return USAGE_EXIT_CODE;
      }
      throw error;
    }
    address = cluster.address;
  }
  // The embedded cluster is plaintext and open on loopback; a remote coordinator gets the connection flags.
  const client = cluster
    ? createSupWalshClient({ address: address!, tls: false, token: '' })
    : createSupWalshClient(clientOptions(values, io, address));
  try {
    const submitted = await client.submit(spec);
    io.stdout.write(`submitted ${submitted.id} (${submitted.runs.length} runs) to ${address}\n${ownerLine(submitted)}`);
    if (values.detach) return 0;
    const print = createEventPrinter(io.stdout, new Map(submitted.runs.map((r) => [r.id, r.label])));
    const onAbort = () => void client.cancel(submitted.id, 'cancelled from the command line (Ctrl-C)').catch(() => {});
    io.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const done = await client.waitForCompletion(submitted.id, { onEvent: print });
      const outDir = path.resolve(values.out ?? path.join('reports', spec.name));
      const report = await downloadReport(client, done, outDir);
      if (options.printResults) await options.printResults(done, outDir, io);
      else io.stdout.write(`\n${formatRunResults(done)}`);
      io.stdout.write(
        `\nexperiment ${done.id}: ${experimentStateName(done.state)}${done.statusMessage ? ` (${done.statusMessage})` : ''}\n`
      );
      if (report) io.stdout.write(`report: ${report}\n`);
      return done.state === ExperimentState.EXPERIMENT_STATE_SUCCEEDED ? 0 : 1;
    } finally {
      io.signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    client.close();
    await cluster?.shutdown();
  }
}

/**
 * `watch <experiment id> [--after N]`: streams the experiment's events until it ends. When the stream fails for
 * good (the SDK rode out what it could), the error's last sequence is printed with the command that resumes there.
 */
export async function watchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(
    'watch',
    WATCH_USAGE,
    argv,
    { ...CONNECT_OPTIONS, after: { type: 'string' }, 'outage-ms': { type: 'string' } },
    io,
    1
  );
  if ('exitCode' in args) return args.exitCode;
  const { values, positionals } = args;
  const id = experimentId('watch', WATCH_USAGE, positionals, io);
  if (!id) return USAGE_EXIT_CODE;
  const after = nonNegativeInteger('after', values.after, 0);
  const outageMs = nonNegativeInteger('outage-ms', values['outage-ms'], DEFAULT_DEADLINES.watchOutageMs);
  for (const problem of [after, outageMs]) {
    if (typeof problem === 'string') {
      io.stderr.write(`supwalsh watch: ${problem}\n`);
      return USAGE_EXIT_CODE;
    }
  }
  const client = createSupWalshClient({
    ...clientOptions(values, io, values.coordinator),
    deadlines: { watchOutageMs: outageMs as number },
  });
  try {
    const experiment = await client.get(id);
    io.stdout.write(`experiment ${experiment.id} (${experiment.spec?.name ?? ''})\n${ownerLine(experiment)}`);
    const print = createEventPrinter(io.stdout, new Map(experiment.runs.map((r) => [r.id, r.label])));
    try {
      for await (const event of client.watch(id, {
        afterSequence: after as number,
        ...(io.signal ? { signal: io.signal } : {}),
      }))
        print(event);
    } catch (error: unknown) {
      const e = toSupWalshError(error);
      if (e.lastSequence === undefined) throw e;
      io.stderr.write(
        `supwalsh watch: ${e.message}\nlast event: ${e.lastSequence}\nresume with: supwalsh watch ${id} --after ${e.lastSequence}\n`
      );
      return 1;
    }
    const done = await client.get(id);
    return isTerminalState(done.state) && done.state !== ExperimentState.EXPERIMENT_STATE_SUCCEEDED ? 1 : 0;
  } finally {
    client.close();
  }
}

/** `list`: a header, then one line per experiment, newest first as the coordinator orders them. */
export async function listCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('list', LIST_USAGE, argv, { ...CONNECT_OPTIONS }, io);
  if ('exitCode' in args) return args.exitCode;
  const client = connect(args.values, io);
  try {
    const rows: string[][] = [];
    for await (const e of client.listAll()) {
      const c = e.runCounts;
      rows.push([
        e.id,
        experimentStateName(e.state),
        e.spec?.name ?? '',
        e.owner,
        `${c?.succeeded ?? 0}/${c?.total ?? 0}${c?.failed ? ` (${c.failed} failed)` : ''}`,
        e.createTime?.toISOString() ?? '',
      ]);
    }
    io.stdout.write(formatColumns(['ID', 'STATE', 'NAME', 'OWNER', 'SUCCEEDED', 'CREATED'], rows));
    return 0;
  } finally {
    client.close();
  }
}

/** Left-aligned columns two spaces apart, as `kubectl get` prints them. */
function formatColumns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()
    )
    .join('\n')
    .concat('\n');
}

/** `cancel <experiment id> [--reason text]`. */
export async function cancelCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(
    'cancel',
    CANCEL_USAGE,
    argv,
    { ...CONNECT_OPTIONS, reason: { type: 'string' } },
    io,
    1
  );
  if ('exitCode' in args) return args.exitCode;
  const { values, positionals } = args;
  const id = experimentId('cancel', CANCEL_USAGE, positionals, io);
  if (!id) return USAGE_EXIT_CODE;
  const client = connect(values, io);
  try {
    const e = await client.cancel(id, values.reason ?? '');
    io.stdout.write(`${e.id}: ${experimentStateName(e.state)}\n`);
    return 0;
  } finally {
    client.close();
  }
}

/** `download <experiment id> [--out dir] [--runs]`: the report, plots and results (and with --runs, every run's weights). */
export async function downloadCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(
    'download',
    DOWNLOAD_USAGE,
    argv,
    { ...CONNECT_OPTIONS, out: { type: 'string' }, runs: { type: 'boolean' } },
    io,
    1
  );
  if ('exitCode' in args) return args.exitCode;
  const { values, positionals } = args;
  const id = experimentId('download', DOWNLOAD_USAGE, positionals, io);
  if (!id) return USAGE_EXIT_CODE;
  const client = connect(values, io);
  try {
    const e = await client.get(id);
    const outDir = path.resolve(values.out ?? path.join('reports', e.spec?.name ?? id));
    const report = await downloadReport(client, e, outDir);
    let files = e.artifacts.length;
    if (values.runs) {
      for (const run of e.runs) {
        for (const artifact of run.artifacts) {
          if (artifact.kind === ArtifactKind.ARTIFACT_KIND_CHECKPOINT) continue;
          const dir = path.join(outDir, 'runs', run.label.replace(/\//g, '_'));
          await fs.mkdir(dir, { recursive: true });
          await client.downloadArtifactToFile(artifact.id, path.join(dir, path.basename(artifact.name)));
          files += 1;
        }
      }
    }
    io.stdout.write(`${files} files in ${outDir}${report ? `; report: ${report}` : ''}\n`);
    return 0;
  } finally {
    client.close();
  }
}
