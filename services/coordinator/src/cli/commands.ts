import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExperimentResult } from '@supwalsh/method';
import {
  ArtifactKind,
  ExperimentState,
  experimentStateToJSON,
  RunState,
  type Experiment,
  type ExperimentEvent,
} from '@supwalsh/proto';
import { createProgressPrinter, formatResultsTable, summarizeRuns, type ProgressStream } from '@supwalsh/report';
import {
  COORDINATOR_ADDRESS_ENV,
  createSupWalshClient,
  isTerminalState,
  type SupWalshClient,
  type SupWalshClientOptions,
} from '@supwalsh/sdk';
import { resolveClientToken, TLS_OPTIONS } from '@supwalsh/security';
import { experimentEventToMethodEvent, parseSpecText, runResultFromJson } from '@supwalsh/wire';
import { nonNegativeInteger, parseCommandArgs, USAGE_EXIT_CODE } from './args.js';
import { startLocalCluster, type LocalCluster } from './local-cluster.js';

export interface CliIo {
  readonly stdout: ProgressStream;
  readonly stderr: ProgressStream;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted by Ctrl-C. */
  readonly signal?: AbortSignal;
}

/** The connection flags every command but serve and worker takes. */
export const CONNECT_USAGE = `  --coordinator <h:p>    the coordinator (or $SUPWALSH_COORDINATOR)
  --token <token>        bearer token (or $SUPWALSH_TOKEN)
  --token-file <file>    file whose first line is the bearer token (or $SUPWALSH_TOKEN_FILE)
  --tls-ca <file>        TLS, verifying the coordinator against this CA (or $SUPWALSH_TLS_CA)
  --tls                  TLS, verifying the coordinator against the system's root certificates (or $SUPWALSH_TLS=1)
  -h, --help             print this and exit

Every flag --name is also read from $SUPWALSH_NAME (dashes as underscores); a flag wins over its variable.
Exit codes: 0 done, 1 failed (or the experiment did not succeed), 2 usage error.
`;

export const SUBMIT_USAGE = `usage: nx run coordinator:submit -- --spec <file> [options]

  --spec <file>          experiment spec, YAML or JSON (examples/*.yaml)                      required
  --coordinator <h:p>    submit to this coordinator (or $${COORDINATOR_ADDRESS_ENV}); without one, an embedded
                         coordinator and --local worker processes run on loopback and stop afterwards
  --local <n>            worker processes of the embedded cluster                              default 2
  --data-dir <dir>       the embedded cluster's store, artifacts and datasets       default .supwalsh/local
  --out <dir>            where the report is downloaded                         default reports/<spec name>
  --detach               submit, print the experiment id and return (needs --coordinator)
${CONNECT_USAGE}`;

export const WATCH_USAGE = `usage: supwalsh watch <experiment id> [--after <sequence>] [options]

  Streams the experiment's events until it ends (exit 1 if it failed or was cancelled).
  --after <sequence>     start after this event sequence number                                default 0
${CONNECT_USAGE}`;

export const LIST_USAGE = `usage: supwalsh list [options]

  One line per experiment, newest first.
${CONNECT_USAGE}`;

export const CANCEL_USAGE = `usage: supwalsh cancel <experiment id> [--reason <text>] [options]

  --reason <text>        why, stored with the experiment
${CONNECT_USAGE}`;

export const DOWNLOAD_USAGE = `usage: supwalsh download <experiment id> [--out <dir>] [--runs] [options]

  --out <dir>            where to write                                       default reports/<spec name>
  --runs                 also every run's weights and results
${CONNECT_USAGE}`;

function stateName(state: ExperimentState): string {
  return experimentStateToJSON(state).replace('EXPERIMENT_STATE_', '').toLowerCase();
}

/** Event lines for a person: step bars, epoch lines and run ends, by run label. */
function createEventPrinter(io: CliIo, labels: ReadonlyMap<string, string>): (event: ExperimentEvent) => void {
  const print = createProgressPrinter(io.stdout);
  return (event) => {
    const label = labels.get(event.runId) ?? event.runId;
    const p = event.payload;
    if (p?.$case === 'runStateChanged') {
      const state = p.value.state;
      if (state === RunState.RUN_STATE_RUNNING) {
        print({
          type: 'run-state',
          runId: `${label} (${p.value.worldSize} worker${p.value.worldSize === 1 ? '' : 's'})`,
          state: 'running',
          message: '',
        });
      } else if (
        state === RunState.RUN_STATE_SUCCEEDED ||
        state === RunState.RUN_STATE_FAILED ||
        state === RunState.RUN_STATE_CANCELLED
      ) {
        const name =
          state === RunState.RUN_STATE_SUCCEEDED
            ? 'succeeded'
            : state === RunState.RUN_STATE_FAILED
              ? 'failed'
              : 'cancelled';
        print({
          type: 'log',
          level: state === RunState.RUN_STATE_SUCCEEDED ? 'info' : 'warning',
          code: '',
          message: `■ ${label}: ${name}${p.value.message ? ` (${p.value.message})` : ''}`,
        });
      }
      return;
    }
    if (p?.$case === 'experimentStateChanged') {
      print({
        type: 'log',
        level: 'info',
        code: '',
        message: `experiment ${stateName(p.value.state)}${p.value.message ? `: ${p.value.message}` : ''}`,
      });
      return;
    }
    const method = experimentEventToMethodEvent(event, label);
    if (method) print(method);
  };
}

/** Downloads every experiment-level artifact (report, plots, results) into `outDir`; returns report.md's path. */
async function downloadReport(
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

async function printResults(io: CliIo, outDir: string): Promise<void> {
  try {
    const result = JSON.parse(await fs.readFile(path.join(outDir, 'results.json'), 'utf8')) as ExperimentResult;
    result.runs.forEach((r) => runResultFromJson(JSON.stringify(r)));
    io.stdout.write(`\n${formatResultsTable(summarizeRuns(result))}\n`);
  } catch {
    io.stderr.write(`no results table: ${path.join(outDir, 'results.json')} is missing or unreadable\n`);
  }
}

/** `submit`: exit code 0 when the experiment succeeded, 1 when it failed or was cancelled, 2 for bad usage. */
export async function submitCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs(
    'submit',
    SUBMIT_USAGE,
    argv,
    {
      spec: { type: 'string' },
      local: { type: 'string', default: '2' },
      'data-dir': { type: 'string', default: '.supwalsh/local' },
      out: { type: 'string' },
      detach: { type: 'boolean' },
      ...CONNECT_OPTIONS,
    },
    io
  );
  if ('exitCode' in args) return args.exitCode;
  const { values } = args;
  if (!values.spec) {
    io.stderr.write(`supwalsh submit: --spec is required\n\n${SUBMIT_USAGE}`);
    return USAGE_EXIT_CODE;
  }
  const workers = Number(values.local);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    io.stderr.write(`supwalsh submit: --local must be an integer from 1 to 64, got ${values.local}\n`);
    return USAGE_EXIT_CODE;
  }
  const spec = parseSpecText(await fs.readFile(values.spec, 'utf8'), values.spec);
  let address = values.coordinator;
  if (values.detach && !address) {
    io.stderr.write(`supwalsh submit: --detach needs a coordinator (--coordinator or $${COORDINATOR_ADDRESS_ENV})\n`);
    return USAGE_EXIT_CODE;
  }
  let cluster: LocalCluster | undefined;
  if (!address) {
    const dataDir = path.resolve(values['data-dir'] ?? '.supwalsh/local');
    io.stdout.write(
      `starting a local cluster: coordinator + ${workers} worker process${workers === 1 ? '' : 'es'} (data in ${dataDir})\n`
    );
    cluster = await startLocalCluster({
      workers,
      dataDir,
      cacheDir: path.join(dataDir, 'cache'),
      onDashboard: (url) => io.stdout.write(`dashboard: ${url}\n`),
    });
    address = cluster.address;
  }
  // The embedded cluster is plaintext and open on loopback; a remote coordinator gets the connection flags.
  const client = cluster
    ? createSupWalshClient({ address, tls: false, token: '' })
    : createSupWalshClient(clientOptions(values, io, address));
  try {
    const submitted = await client.submit(spec);
    io.stdout.write(`submitted ${submitted.id} (${submitted.runs.length} runs) to ${address}\n`);
    if (values.detach) return 0;
    const labels = new Map(submitted.runs.map((r) => [r.id, r.label]));
    const print = createEventPrinter(io, labels);
    const onAbort = () => void client.cancel(submitted.id, 'cancelled from the command line (Ctrl-C)').catch(() => {});
    io.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const done = await client.waitForCompletion(submitted.id, { onEvent: print });
      const outDir = path.resolve(values.out ?? path.join('reports', spec.name));
      const report = await downloadReport(client, done, outDir);
      await printResults(io, outDir);
      io.stdout.write(
        `\nexperiment ${done.id}: ${stateName(done.state)}${done.statusMessage ? ` (${done.statusMessage})` : ''}\n`
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

const CONNECT_OPTIONS = {
  coordinator: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  tls: { type: 'boolean' },
} as const;

/** A command's one positional argument, the experiment id, or a usage error. */
function experimentId(command: string, usage: string, positionals: readonly string[], io: CliIo): string | undefined {
  const id = positionals[0];
  if (!id) io.stderr.write(`supwalsh ${command}: the experiment id is missing\n\n${usage}`);
  return id;
}

/** `watch <experiment id> [--after N]`: streams the experiment's events until it ends. */
export async function watchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('watch', WATCH_USAGE, argv, { ...CONNECT_OPTIONS, after: { type: 'string' } }, io, 1);
  if ('exitCode' in args) return args.exitCode;
  const { values, positionals } = args;
  const id = experimentId('watch', WATCH_USAGE, positionals, io);
  if (!id) return USAGE_EXIT_CODE;
  const after = nonNegativeInteger('after', values.after, 0);
  if (typeof after === 'string') {
    io.stderr.write(`supwalsh watch: ${after}\n`);
    return USAGE_EXIT_CODE;
  }
  const client = connect(values, io);
  try {
    const experiment = await client.get(id);
    const print = createEventPrinter(io, new Map(experiment.runs.map((r) => [r.id, r.label])));
    for await (const event of client.watch(id, {
      afterSequence: after,
      ...(io.signal ? { signal: io.signal } : {}),
    }))
      print(event);
    const done = await client.get(id);
    return isTerminalState(done.state) && done.state !== ExperimentState.EXPERIMENT_STATE_SUCCEEDED ? 1 : 0;
  } finally {
    client.close();
  }
}

/** `list`: one line per experiment, newest first as the coordinator orders them. */
export async function listCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseCommandArgs('list', LIST_USAGE, argv, { ...CONNECT_OPTIONS }, io);
  if ('exitCode' in args) return args.exitCode;
  const client = connect(args.values, io);
  try {
    for await (const e of client.listAll()) {
      const c = e.runCounts;
      io.stdout.write(
        `${e.id}  ${stateName(e.state).padEnd(9)}  ${e.spec?.name ?? ''}  runs ${c?.succeeded ?? 0}/${c?.total ?? 0} succeeded${c?.failed ? `, ${c.failed} failed` : ''}  ${e.createTime?.toISOString() ?? ''}\n`
      );
    }
    return 0;
  } finally {
    client.close();
  }
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
    io.stdout.write(`${e.id}: ${stateName(e.state)}\n`);
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
