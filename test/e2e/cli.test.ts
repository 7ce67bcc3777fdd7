import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { postJson } from '../helpers/harness.js';

const BIN = fileURLToPath(new URL('../../../bin/switchyard.js', import.meta.url));

function run(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** Resolves with the first stdout line matching `re`; rejects if the process exits first. */
function lineMatching(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; stderr: ${err}`)), timeoutMs);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      buf += d;
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${re}; stderr: ${err}`));
    });
  });
}

describe('the switchyard command line', () => {
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('exits with code 2 and a clear message on unknown or invalid flags', async () => {
    for (const args of [['--bogus'], ['--worker-urls', 'a:1', '--port', 'x'], [], ['sim', '--nope'], ['sim', '--port', '1', '--tokenizer-path']]) {
      const r = await exitOf(run(args));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0);
    }
  });

  it('prints help and exits 0', async () => {
    const r = await exitOf(run(['--help']));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--worker-urls/);
    assert.match(r.stdout, /--tokenizer-backend/);
    const s = await exitOf(run(['sim', '--help']));
    assert.equal(s.code, 0);
    assert.match(s.stdout, /--tokenizer-path/);
  });

  it('runs a standalone sim worker and a router that takes its tokenizer from GetModelInfo', async () => {
    const sim = run(['sim', '--port', '0', '--tokenizer-path', bundledTokenizerDir('qwen3'), '--served-model-name', 'cli-model', '--decode-base-ms', '0', '--prefill-tps', '0']);
    children.push(sim);
    const [, simUrl] = await lineMatching(sim, /(grpc:\/\/[\d.]+:\d+)/);
    const router = run(['--worker-urls', simUrl!, '--port', '0', '--prometheus-port', '0', '--log-level', 'warn', '--prep-threads', '1', '--health-check-interval-secs', '0.2']);
    children.push(router);
    const [, url] = await lineMatching(router, /ready on (http:\/\/[\d.]+:\d+)/);
    let ready = 503;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await fetch(`${url}/readiness`)).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 200);
    const res = await postJson(`${url}/v1/chat/completions`, { model: 'cli-model', messages: [{ role: 'user', content: '<<sim reply="from the cli">>' }] });
    assert.equal(res.status, 200);
    assert.equal(res.json.choices[0].message.content, 'from the cli');
    router.kill('SIGTERM');
    sim.kill('SIGTERM');
    const [[rc], [sc]] = await Promise.all([once(router, 'exit'), once(sim, 'exit')]);
    assert.equal(rc, 0);
    assert.equal(sc, 0);
  });

  it('starts the embedded demo and serves the Qwen3 template', async () => {
    const demo = run(['demo', '--port', '0', '--prometheus-port', '0', '--prep-threads', '1', '--log-level', 'warn']);
    children.push(demo);
    const [, url] = await lineMatching(demo, /ready on (http:\/\/[\d.]+:\d+)/);
    const res = await postJson(`${url}/v1/chat/completions`, { model: 'qwen3-sim', messages: [{ role: 'user', content: 'Hello!' }] });
    assert.equal(res.status, 200);
    assert.ok(res.json.choices[0].message.content.length > 0);
    assert.ok(res.json.choices[0].message.reasoning_content.length > 0);
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const withTools = await postJson(`${url}/v1/chat/completions`, { model: 'qwen3-sim', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools });
    assert.equal(withTools.json.choices[0].finish_reason, 'tool_calls');
    assert.equal(withTools.json.choices[0].message.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(withTools.json.choices[0].message.tool_calls[0].function.arguments), { city: 'Paris' });
    demo.kill('SIGINT');
    const [code] = await once(demo, 'exit');
    assert.equal(code, 0);
  });
});
