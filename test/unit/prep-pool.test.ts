import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/errors.js';
import { bundledTokenizerDir } from '../../src/tokenizer/bundled.js';
import { PrepPool } from '../../src/tokenizer/prep-pool.js';

describe('prep pool', () => {
  it('renders and tokenizes in its threads', async () => {
    const pool = new PrepPool({ dir: bundledTokenizerDir('qwen3'), backend: 'native' }, 1);
    try {
      const out = await pool.renderChat({ messages: [{ role: 'user', content: 'hi' }], addGenerationPrompt: true, continueFinalMessage: false });
      assert.match(out.text, /<\|im_start\|>user\nhi<\|im_end\|>/);
      assert.ok(out.ids.length > 3);
    } finally {
      await pool.close();
    }
  });

  it('fails requests still in flight when its model is released with 503 model_unavailable, not a router fault', async () => {
    const pool = new PrepPool({ dir: bundledTokenizerDir('qwen3'), backend: 'native' }, 1);
    // One thread takes four tasks at a time: the rest wait in the queue that closing empties.
    const pending = Array.from({ length: 8 }, () =>
      pool.renderChat({ messages: [{ role: 'user', content: 'word '.repeat(20_000) }], addGenerationPrompt: true, continueFinalMessage: false }),
    );
    const settled = Promise.allSettled(pending);
    await pool.close();
    const failed = (await settled).filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
    assert.ok(failed.length > 0, 'queued requests fail');
    for (const err of failed) assert.ok(err instanceof ApiError && err.status === 503 && err.code === 'model_unavailable', String(err));
  });
});
