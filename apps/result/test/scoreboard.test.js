import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scoreboard } from '../src/scoreboard.js';

// A fake database: each poll takes the next answer (an {a, b} or an Error).
function scripted(...answers) {
  let calls = 0;
  const fetch = async () => {
    const answer = answers[Math.min(calls, answers.length - 1)];
    calls += 1;
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch, calls: () => calls };
}

test('emits scores on the first poll and then only on change', async () => {
  const db = scripted({ a: 1, b: 0 }, { a: 1, b: 0 }, { a: 2, b: 0 }, { a: 2, b: 0 });
  const board = new Scoreboard(db.fetch, 1000);
  const seen = [];
  board.on('scores', (s) => seen.push(s));
  for (let i = 0; i < 4; i += 1) await board.poll();
  assert.deepEqual(seen, [{ a: 1, b: 0 }, { a: 2, b: 0 }]);
  assert.deepEqual(board.scores, { a: 2, b: 0 });
});

test('a database error marks it down, keeps the last scores, and recovery marks it up', async () => {
  const db = scripted({ a: 3, b: 4 }, new Error('connection refused'), { a: 3, b: 5 });
  const board = new Scoreboard(db.fetch, 1000);
  const statuses = [];
  board.on('status', (up) => statuses.push(up));
  await board.poll();
  assert.equal(board.available, true);
  await board.poll();
  assert.equal(board.dbUp, false);
  assert.equal(board.available, false);
  assert.equal(board.lastError, 'connection refused');
  assert.deepEqual(board.scores, { a: 3, b: 4 });
  await board.poll();
  assert.equal(board.available, true);
  assert.deepEqual(board.scores, { a: 3, b: 5 });
  assert.deepEqual(statuses, [true, false, true]);
});

test('a database that is down from the start is reported once', async () => {
  const db = scripted(new Error('no route'), new Error('no route'));
  const board = new Scoreboard(db.fetch, 1000);
  const statuses = [];
  board.on('status', (up) => statuses.push(up));
  await board.poll();
  await board.poll();
  assert.deepEqual(statuses, [false]);
  assert.equal(board.available, false);
});

test('start polls at the interval without overlapping, stop ends it', async () => {
  let running = 0;
  let maxRunning = 0;
  let calls = 0;
  const slowFetch = async () => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    calls += 1;
    await new Promise((resolve) => setTimeout(resolve, 30));
    running -= 1;
    return { a: calls, b: 0 };
  };
  const board = new Scoreboard(slowFetch, 5);
  await board.start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  board.stop();
  const callsAtStop = calls;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(maxRunning, 1);
  assert.ok(callsAtStop >= 3, `expected several polls, got ${callsAtStop}`);
  assert.ok(calls <= callsAtStop + 1, 'polling went on after stop');
});
