/**
 * `perflab optimize` as a user runs it, the real Anthropic SDK talking to a
 * local Messages API server (test/helpers/messages-server.ts): every kind of
 * answer is recorded as what it is, fed back into the next prompt, only the
 * real improvement is promoted, the limits stop the loop, the API key (a canary
 * made now) never lands anywhere, and a replay reproduces the experiment
 * offline. Then the tuner, interrupted and resumed.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinVariantSource } from '../../src/native/sources.js';
import { packageRoot } from '../../src/paths.js';
import { canaryKey, startMessagesServer, type MessagesServer, type Reply } from '../helpers/messages-server.js';

const bin = join(packageRoot(), 'bin', 'perflab.js');
const corpus = join(packageRoot(), 'test', 'adversarial', 'variants');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function perflab(args: string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, maxBuffer: 64 << 20, timeout: 900_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

function answer(title: string, implementation: object): Reply {
  return {
    answer: {
      analysis: { summary: `${title}: analysis`, bottlenecks: ['the shared cache line'] },
      optimizations: [{ title, rationale: 'because', expected_gain: '2x', risk: 'low' }],
      implementation,
    },
  };
}
const file = (content: string) => ({ files: [{ path: 'candidate.c', content }] });

/** Every file under dir (recursively), for the canary search. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describe('perflab optimize with the anthropic proposer (real SDK, local Messages API)', () => {
  let server: MessagesServer;
  const key = canaryKey();
  const state = mkdtempSync(join(tmpdir(), 'perflab-opt-'));
  const store = join(state, 'perflab.db');
  const cached = readFileSync(builtinVariantSource('spsc', 'cached-index')!, 'utf8');
  let run: Outcome;
  let doc: any;

  beforeAll(async () => {
    server = await startMessagesServer();
    server.enqueue(
      { status: 429, retryAfter: 0 }, // the SDK retries it
      answer('a candidate that does not compile', file('int broken = ;\n')),
      { answer: { analysis: 'not an object', optimizations: 'nope' } }, // schema-violating
      { refusal: true },
      answer('drop the full check (wrong)', file(readFileSync(join(corpus, 'drops_items.c'), 'utf8'))),
      answer('a crashing candidate', file(readFileSync(join(corpus, 'segfaults.c'), 'utf8'))),
      { delayMs: 1500, then: answer('cached indices and padding (faster)', file(cached)) }, // slow, then the real improvement
      answer('cached indices again (a repeat)', file(cached)),
      { status: 500 }, { status: 500 }, { status: 500 }, // persists through the SDK's retries
      { text: 'Here is my answer in prose instead of the schema.' },
      answer('reword a comment (the same code)', { edits: [{ search: "x86's adjacent-line prefetcher fetches lines in pairs.", replace: 'the adjacent-line prefetcher pulls lines in pairs on x86.' }] }),
    );
    const env = { ...process.env, ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: server.url, PERFLAB_STORE: store, PERFLAB_LOCK: join(state, 'measure.lock'), NO_COLOR: '1' };
    run = await perflab(['optimize', '--family', 'spsc', '--from', 'naive', '--iterations', '10', '--rounds', '5', '--sample-ms', '100', '--seed', '4242', '--json'], env);
    doc = JSON.parse(run.stdout);
  }, 900_000);

  afterAll(async () => {
    await server?.close();
  });

  it('records each answer as what it is', () => {
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(doc.schema_version).toBe(1);
    expect(doc.proposer).toBe('anthropic');
    const rows = doc.attempts.map((a: any) => [a.iteration, a.stage, a.verdict]);
    expect(rows).toEqual([
      [1, 'compile', 'fail'],
      [2, 'propose', 'fail'],
      [3, 'propose', 'fail'],
      [4, 'conformance', 'fail'],
      [5, 'sanitize', 'fail'],
      [6, 'compare', 'pass'],
      [7, 'dedupe', 'fail'],
      [8, 'propose', 'fail'],
      [9, 'propose', 'fail'],
      [10, 'compare', 'pass'],
    ]);
    expect(doc.attempts[1].reason).toMatch(/analysis/); // names the schema violation's path
    expect(doc.attempts[2].reason).toMatch(/refus/i);
    expect(doc.attempts[4].reason).toMatch(/SEGV|AddressSanitizer|crash|signal/i);
    expect(doc.attempts[6].reason).toMatch(/repeat of iteration 6/);
    expect(doc.attempts[6].hash).toBe(doc.attempts[5].hash);
    expect(doc.attempts[7].reason).toMatch(/500|api_error|Internal/i);
    expect(doc.stopped_by).toBe('iterations');
  });

  it('promotes only the real improvement, re-confirmed', () => {
    // The first candidate measured faster than the start becomes the best (cached-index is 3-8x naive here,
    // but the verdict is the measurement's to give; the test checks the loop acts on it).
    expect(doc.attempts[5].best).toBe(doc.attempts[5].compare === 'faster');
    // The best went through a fresh comparison; it is promoted exactly when that says faster (the
    // measured verdict is the machine's to give: under heavy load it may be inconclusive).
    expect(doc.confirmation, 'the best was re-confirmed').not.toBeNull();
    const best = doc.attempts.find((a: any) => a.best);
    if (doc.confirmation.verdict === 'faster' && !doc.confirmation.flags.some((f: string) => f.startsWith('suspicious'))) {
      expect(doc.promoted.hash).toBe(best.hash);
      // the faster code: iteration 6, or iteration 10 (the same code with a comment reworded) should it win a head-to-head by noise
      expect([doc.attempts[5].hash, doc.attempts[9].hash]).toContain(doc.promoted.hash);
    } else {
      expect(doc.promoted, JSON.stringify(doc.confirmation)).toBeNull();
    }
    for (const i of [0, 3, 4]) expect(doc.attempts[i].best).toBe(false); // wrong, crashing or broken candidates never
    expect(doc.promoted.ci95[0]).toBeGreaterThan(1);
  });

  it('feeds every attempt back into the next prompt', () => {
    const messages = server.requests.filter((r) => r.path === '/v1/messages').map((r) => r.body);
    const user = (b: any) => (typeof b.messages[0].content === 'string' ? b.messages[0].content : JSON.stringify(b.messages[0].content));
    // the prompt after iteration 1 carries its compile failure and the compiler's words
    const second = messages.find((b) => user(b).includes('int broken'))!;
    expect(second, 'the parent code or the failed candidate evidence').toBeDefined();
    const last = user(messages[messages.length - 1]);
    // the table of attempts in the last prompt has a row for each of the nine before it, with its stage and verdict
    for (const a of doc.attempts.slice(0, 9)) expect(last).toMatch(new RegExp(`\\| ${a.iteration} \\|[^\\n]*\\| ${a.stage} \\| ${a.verdict} \\|`));
    expect(last).toContain('cached indices and padding (faster)');
    // the system prefix is byte-stable and marked for caching
    const systems = new Set(messages.map((b) => JSON.stringify(b.system)));
    expect(systems.size).toBe(1);
    expect(JSON.stringify(messages[0].system)).toContain('"cache_control"');
    expect(doc.usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(doc.usage.input_tokens).toBeGreaterThan(0);
  });

  it('never writes the API key anywhere: store, logs, reports', () => {
    for (const r of server.requests) expect(`${r.headers['x-api-key'] ?? ''} ${r.headers.authorization ?? ''}`).toContain(key); // it was really used
    expect(run.stdout).not.toContain(key);
    expect(run.stderr).not.toContain(key);
    for (const f of filesUnder(state)) expect(readFileSync(f).includes(key), f).toBe(false);
  });

  it('replay reproduces the experiment offline: same candidates, same stage outcomes', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PERFLAB_STORE: store, PERFLAB_LOCK: join(state, 'measure.lock'), NO_COLOR: '1' };
    delete env.ANTHROPIC_API_KEY;
    env.ANTHROPIC_BASE_URL = 'http://127.0.0.1:9'; // nothing may be asked of any server
    const before = server.requests.length;
    const again = await perflab(['optimize', '--proposer', 'replay', '--replay', doc.experiment_id, '--json'], env);
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(server.requests.length).toBe(before);
    expect(r.proposer).toBe('replay');
    expect(r.attempts.map((a: any) => [a.iteration, a.hash, a.stage, a.verdict])).toEqual(doc.attempts.map((a: any) => [a.iteration, a.hash, a.stage, a.verdict]));
    if (r.promoted && doc.promoted) expect([doc.attempts[5].hash, doc.attempts[9].hash]).toContain(r.promoted.hash);
    if (!r.promoted) expect(r.confirmation?.verdict).not.toBe('faster');
    expect(r.replay.of).toBe(doc.experiment_id);
    expect(r.replay.diverged_at).not.toBe(1); // the first request is byte-identical; later ones carry newly measured numbers
    expect(r.usage.input_tokens).toBe(0);
  }, 900_000);
});

describe('perflab optimize: limits', () => {
  it('stops at --max-tokens and --max-usd before the call that could pass them', async () => {
    const server = await startMessagesServer();
    const state = mkdtempSync(join(tmpdir(), 'perflab-lim-'));
    try {
      const env = { ...process.env, ANTHROPIC_API_KEY: canaryKey(), ANTHROPIC_BASE_URL: server.url, PERFLAB_STORE: join(state, 'perflab.db'), PERFLAB_LOCK: join(state, 'measure.lock'), NO_COLOR: '1' };
      for (const [flag, value, by] of [['--max-tokens', '100', 'tokens'], ['--max-usd', '0.000001', 'usd']] as const) {
        server.enqueue({ text: 'prose' }, { text: 'prose' }, { text: 'prose' });
        const r = await perflab(['optimize', '--family', 'spsc', '--from', 'naive', '--iterations', '3', flag, value, '--json'], env);
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
        const doc = JSON.parse(r.stdout);
        expect(doc.stopped_by).toBe(by);
        expect(doc.attempts.length).toBe(1); // one call made, the next would have passed the limit
        expect(doc.usage.input_tokens).toBeGreaterThan(0);
      }
    } finally {
      await server.close();
    }
  }, 300_000);

  it('bad input is a usage error (exit 2) with what to do', async () => {
    const env = { ...process.env, PERFLAB_STORE: join(mkdtempSync(join(tmpdir(), 'perflab-bad-')), 'perflab.db') };
    delete env.ANTHROPIC_API_KEY;
    const cases: [string[], RegExp][] = [
      [['optimize', '--family', 'spsc'], /--from/],
      [['optimize', '--family', 'spsc', '--from', 'naive', '--proposer', 'gpt'], /--proposer must be one of/],
      [['optimize', '--family', 'spsc', '--from', 'naive', '--iterations', '0'], /--iterations/],
      [['optimize', '--family', 'spsc', '--from', 'naive', '--max-usd', 'lots'], /--max-usd/],
      [['optimize', '--family', 'spsc', '--from', 'naive', '--proposer', 'openai-compatible'], /--base-url/],
      [['optimize', '--family', 'spsc', '--from', 'naive', '--resume', 'exp-nope'], /no experiment/],
      [['agent', 'lock-free', '--structure', 'spsc', '--producers', '2'], /one producer/],
      [['agent', 'lock-free', '--structure', 'mpmc', '--proposer', 'tuner'], /needs a model/],
    ];
    for (const [args, message] of cases) {
      const r = await perflab(args, env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const noKey = await perflab(['optimize', '--family', 'spsc', '--from', 'naive', '--proposer', 'anthropic'], env);
    expect(noKey.code).toBe(3);
    expect(noKey.stderr).toMatch(/ANTHROPIC_API_KEY/);
  }, 120_000);
});

describe('perflab optimize with the tuner (no API key): interrupted and resumed', () => {
  it('Ctrl-C leaves a resumable experiment and no runner; --resume finishes it', async () => {
    const state = mkdtempSync(join(tmpdir(), 'perflab-tune-'));
    const env: NodeJS.ProcessEnv = { ...process.env, PERFLAB_STORE: join(state, 'perflab.db'), PERFLAB_LOCK: join(state, 'measure.lock'), NO_COLOR: '1' };
    delete env.ANTHROPIC_API_KEY;
    const child = spawn(process.execPath, [bin, 'optimize', '--family', 'spsc', '--from', 'naive', '--iterations', '3', '--rounds', '3', '--sample-ms', '100', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // interrupt while the second candidate is being measured
    for (let i = 0; i < 4000 && !/#2 compare/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/#2 compare/);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    const stopped = JSON.parse(stdout);
    expect(stopped.stopped_by).toBe('interrupt');
    expect(stopped.attempts.length).toBe(1);
    expect(stderr).toMatch(/resume with: perflab optimize .*--resume exp-/);
    await new Promise((r) => setTimeout(r, 300));
    const ps = await new Promise<string>((r) => execFile('ps', ['-eo', 'pid=,args='], (_e, out) => r(out)));
    expect(ps.split('\n').filter((l) => l.includes('perflab-runner') && l.includes(state))).toEqual([]);
    expect(existsSync(join(state, 'measure.lock'))).toBe(false);

    const resumed = await perflab(['optimize', '--resume', stopped.experiment_id, '--json'], env);
    expect(resumed.code, resumed.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(resumed.stdout);
    expect(doc.experiment_id).toBe(stopped.experiment_id);
    expect(doc.stopped_by).toBe('iterations');
    expect(doc.attempts.map((a: any) => a.iteration)).toEqual([1, 2, 3]);
    expect(new Set(doc.attempts.map((a: any) => a.hash)).size).toBe(3); // three different knob settings
    for (const a of doc.attempts) {
      expect(a.stage).toBe('compare');
      expect(Object.keys(a.knobs).length).toBeGreaterThan(0); // a setting other than naive's defaults
    }
    // iteration 2's answer was recorded before the interrupt: resume evaluated that same candidate rather than asking again
    const checked = /#2 check naive-tuner-([0-9a-f]{8})/.exec(stderr)![1]!;
    expect(doc.attempts[1].hash.startsWith(checked)).toBe(true);
    expect(doc.usage.input_tokens).toBe(0);
  }, 600_000);
});
