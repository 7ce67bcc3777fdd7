import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../bench/rng.js';
import { TokenRadixTree } from '../../src/routing/index.js';
import { randomTokens } from '../helpers/routing.js';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

function insertFor(tree: TokenRadixTree, id: string, tokens: number[]): number {
  const matched = tree.match(tokens);
  tree.insert(tree.tenantIndex(id), tokens);
  return matched;
}

function matchedBy(tree: TokenRadixTree, id: string, tokens: number[]): number {
  tree.match(tokens);
  return tree.matchedLength(tree.tenantIndex(id));
}

describe('TokenRadixTree match and insert', () => {
  it('matches nothing in an empty tree and the whole page-aligned prompt after inserting it', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const p = range(1, 16);
    assert.equal(insertFor(tree, 'a', p), 0);
    assert.equal(matchedBy(tree, 'a', p), 16);
    assert.equal(tree.tenantSize('a'), 16);
  });

  it('inserts and matches whole pages only: a partial last page is neither cached nor matched', () => {
    const tree = new TokenRadixTree(4, 1e9);
    insertFor(tree, 'a', range(1, 10));
    assert.equal(tree.tenantSize('a'), 8);
    assert.equal(matchedBy(tree, 'a', range(1, 10)), 8);
    assert.equal(matchedBy(tree, 'a', range(1, 3)), 0, 'shorter than a page');
  });

  it('counts a divergence inside a page as a miss for that whole page', () => {
    const tree = new TokenRadixTree(4, 1e9);
    insertFor(tree, 'a', range(1, 16));
    const q = range(1, 16);
    q[10] = 999;
    assert.equal(matchedBy(tree, 'a', q), 8);
  });

  it('splits an edge at the page boundary where two prompts diverge and keeps both', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const p = range(1, 16);
    const q = [...range(1, 8), ...range(100, 8)];
    insertFor(tree, 'a', p);
    assert.equal(tree.nodeCount(), 1);
    assert.equal(insertFor(tree, 'b', q), 8);
    assert.equal(tree.nodeCount(), 3, 'shared head + two tails');
    assert.equal(matchedBy(tree, 'a', p), 16);
    assert.equal(matchedBy(tree, 'b', p), 8, 'b holds only the shared head of p');
    assert.equal(matchedBy(tree, 'b', q), 16);
    assert.equal(tree.tenantSize('a'), 16);
    assert.equal(tree.tenantSize('b'), 16);
  });

  it('tells apart children whose first pages share their first token', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const head = range(1, 4);
    const p = [...head, 7, 1, 1, 1];
    const q = [...head, 7, 2, 2, 2];
    insertFor(tree, 'a', p);
    insertFor(tree, 'b', q);
    assert.equal(matchedBy(tree, 'a', q), 4);
    assert.equal(matchedBy(tree, 'b', q), 8);
    assert.equal(matchedBy(tree, 'b', p), 4);
  });

  it('reports each tenant its own matched depth along one descent', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const long = range(1, 32);
    insertFor(tree, 'short', long.slice(0, 8));
    insertFor(tree, 'mid', long.slice(0, 20));
    insertFor(tree, 'long', long);
    tree.match(long);
    assert.deepEqual(
      ['short', 'mid', 'long', 'none'].map((id) => tree.matchedLength(tree.tenantIndex(id))),
      [8, 20, 32, 0],
    );
  });

  it('splits an edge when the prompt ends inside it', () => {
    const tree = new TokenRadixTree(4, 1e9);
    insertFor(tree, 'a', range(1, 16));
    insertFor(tree, 'b', range(1, 8));
    assert.equal(tree.nodeCount(), 2);
    assert.equal(matchedBy(tree, 'b', range(1, 16)), 8);
  });
});

describe('TokenRadixTree per-tenant LRU bound', () => {
  it('keeps every tenant within its capacity by evicting its least recently used prompts', () => {
    const tree = new TokenRadixTree(4, 1e9);
    tree.setCapacity('a', 32);
    const prompts = [0, 1, 2, 3].map((k) => range(1000 * (k + 1), 16));
    for (const p of prompts) insertFor(tree, 'a', p);
    assert.equal(tree.tenantSize('a'), 32);
    assert.equal(matchedBy(tree, 'a', prompts[0]!), 0, 'oldest evicted');
    assert.equal(matchedBy(tree, 'a', prompts[1]!), 0);
    assert.equal(matchedBy(tree, 'a', prompts[2]!), 16);
    assert.equal(matchedBy(tree, 'a', prompts[3]!), 16);
  });

  it('a re-used prompt becomes most recent and survives the next eviction', () => {
    const tree = new TokenRadixTree(4, 1e9);
    tree.setCapacity('a', 32);
    const [p0, p1, p2] = [0, 1, 2].map((k) => range(1000 * (k + 1), 16));
    insertFor(tree, 'a', p0!);
    insertFor(tree, 'a', p1!);
    insertFor(tree, 'a', p0!);
    insertFor(tree, 'a', p2!);
    assert.equal(matchedBy(tree, 'a', p0!), 16);
    assert.equal(matchedBy(tree, 'a', p1!), 0);
  });

  it('evicts leaves before the shared prefix they hang from, and only whole pages', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const head = range(1, 16);
    const p = [...head, ...range(100, 8)];
    const q = [...head, ...range(200, 8)];
    insertFor(tree, 'a', p);
    insertFor(tree, 'a', q);
    assert.equal(tree.tenantSize('a'), 32);
    tree.setCapacity('a', 22);
    assert.equal(tree.tenantSize('a'), 20, 'p tail (8) dropped, then one more page would overshoot');
    assert.equal(matchedBy(tree, 'a', p), 16);
    assert.equal(matchedBy(tree, 'a', q), 20, 'the most recent prompt lost only its last page');
  });

  it('bounds one tenant without touching another that shares the nodes', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const p = range(1, 64);
    insertFor(tree, 'a', p);
    insertFor(tree, 'b', p);
    tree.setCapacity('a', 16);
    assert.equal(matchedBy(tree, 'a', p), 16);
    assert.equal(matchedBy(tree, 'b', p), 64);
  });

  it('removes nodes that no tenant holds any more', () => {
    const tree = new TokenRadixTree(4, 1e9);
    const random = mulberry32(7);
    for (let i = 0; i < 50; i++) insertFor(tree, 'a', randomTokens(64, random));
    assert.equal(tree.nodeCount(), 50);
    tree.setCapacity('a', 64 * 10);
    assert.equal(tree.nodeCount(), 10);
    tree.removeTenant('a');
    assert.equal(tree.nodeCount(), 0);
    assert.equal(tree.tenantSize('a'), 0);
  });

  it('stays within capacity under a long random workload of shared and private prefixes', () => {
    const tree = new TokenRadixTree(16, 1e9);
    const random = mulberry32(11);
    const heads = [0, 1, 2, 3].map(() => randomTokens(512, random));
    const ids = ['a', 'b', 'c'];
    for (const id of ids) tree.setCapacity(id, 4096);
    for (let i = 0; i < 400; i++) {
      const prompt = [...heads[Math.floor(random() * 4)]!, ...randomTokens(Math.floor(random() * 700), random)];
      insertFor(tree, ids[i % 3]!, prompt);
      for (const id of ids) assert.ok(tree.tenantSize(id) <= 4096, `${id} holds ${tree.tenantSize(id)}`);
    }
    for (const id of ids) tree.removeTenant(id);
    assert.equal(tree.nodeCount(), 0);
  });
});
