import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io as connect } from 'socket.io-client';
import { createResultServer, escapeHtml, renderPage } from '../src/app.js';
import { configFromEnv } from '../src/config.js';
import { Scoreboard } from '../src/scoreboard.js';

// The HTTP server and socket.io are real, on a loopback port; only the
// database behind the Scoreboard is a fake whose answer the tests set.
let answer = { a: 0, b: 0 };
const scoreboard = new Scoreboard(async () => {
  if (answer instanceof Error) throw answer;
  return answer;
}, 1000);
const config = configFromEnv({ OPTION_A: 'Tea <hot>', OPTION_B: 'Coffee & milk', APP_VERSION: '9.9.9' });
const server = createResultServer({ config, scoreboard });
let base;

before(async () => {
  await scoreboard.poll();
  await new Promise((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.httpServer.address().port}`;
});

after(async () => {
  await server.close();
  server.httpServer.close();
});

test('escapeHtml neutralises markup', () => {
  assert.equal(escapeHtml(`<script>"x"&'y'</script>`), '&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;');
});

test('renderPage puts both labels in, escaped', () => {
  const html = renderPage({ optionA: 'A<b>', optionB: 'B' });
  assert.match(html, /A&lt;b&gt;/);
  assert.doesNotMatch(html, /\{\{/);
});

test('GET / is the live page with the configured labels', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /Tea &lt;hot&gt;/);
  assert.match(html, /Coffee &amp; milk/);
  assert.match(html, /src="\/socket.io\/socket.io.js"/);
  assert.doesNotMatch(html, /https?:\/\//, 'the page must not load anything from another host');
});

test('the socket.io client script is served locally', async () => {
  const res = await fetch(`${base}/socket.io/socket.io.js`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /socket\.io/i);
});

test('/api/scores and /healthz while the database answers', async () => {
  answer = { a: 2, b: 1 };
  await scoreboard.poll();
  let res = await fetch(`${base}/api/scores`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { a: 2, b: 1 });
  res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok', db: 'up', version: '9.9.9' });
});

test('/api/scores and /healthz are 503 while the database is down, /livez is 200', async () => {
  answer = new Error('connect ECONNREFUSED 10.43.7.9:5432 for user "postgres"');
  await scoreboard.poll();
  let res = await fetch(`${base}/api/scores`);
  assert.equal(res.status, 503);
  const body = await res.text();
  assert.deepEqual(JSON.parse(body), { error: 'database unavailable' });
  assert.doesNotMatch(body, /10\.43|postgres|ECONNREFUSED/, 'no internal host or user name in an error body');
  assert.equal((await fetch(`${base}/livez`)).status, 200);
  res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 503);
  assert.equal((await res.json()).db, 'down');
  answer = { a: 2, b: 1 };
  await scoreboard.poll();
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

test('GET / carries the current counts in its HTML, for a reader without JavaScript', async () => {
  answer = { a: 3, b: 1 };
  await scoreboard.poll();
  const html = await (await fetch(`${base}/`)).text();
  assert.match(html, /id="percent-a">75\.0%</);
  assert.match(html, /id="percent-b">25\.0%</);
  assert.match(html, /id="result">4 votes</);
  assert.match(html, /id="connection" role="status" hidden>/);
});

test('renderPage before the first count says it is waiting, not "no votes"', () => {
  assert.match(renderPage({ optionA: 'A', optionB: 'B' }, null), /Waiting for the first count/);
  assert.match(renderPage({ optionA: 'A', optionB: 'B' }, { a: 0, b: 0 }), /No votes yet/);
  assert.match(renderPage({ optionA: 'A', optionB: 'B' }, { a: 1, b: 0 }), />1 vote</);
});

test('a wrong method is 405 with Allow', async () => {
  for (const path of ['/', '/api/scores', '/healthz', '/livez']) {
    const res = await fetch(`${base}${path}`, { method: 'POST' });
    assert.equal(res.status, 405, path);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
  }
});

test('CSP forbids framing by another site', async () => {
  const res = await fetch(`${base}/`);
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; frame-ancestors 'none'");
});

test('unknown paths are a plain 404', async () => {
  const res = await fetch(`${base}/nope`);
  assert.equal(res.status, 404);
  assert.equal(await res.text(), '404 Not Found\n');
});

test('a socket gets the scores on connect and every change after', async () => {
  answer = { a: 5, b: 5 };
  await scoreboard.poll();
  const socket = connect(base, { transports: ['websocket'], forceNew: true });
  const received = [];
  const next = () => new Promise((resolve) => socket.once('scores', (s) => { received.push(s); resolve(s); }));
  try {
    assert.deepEqual(await next(), { a: 5, b: 5 });
    const changed = next();
    answer = { a: 6, b: 5 };
    await scoreboard.poll();
    assert.deepEqual(await changed, { a: 6, b: 5 });
    // An unchanged poll must not emit: wait past it and compare.
    await scoreboard.poll();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(received.length, 2);
  } finally {
    socket.close();
  }
});
