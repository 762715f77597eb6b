// HTTP routes and the socket.io channel, around a Scoreboard.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import express from 'express';
import { Server } from 'socket.io';

const ROOT = new URL('../', import.meta.url);
const PAGE_TEMPLATE = readFileSync(new URL('views/index.html', ROOT), 'utf8');

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);
}

// The same words public/app.js writes, so the page read without JavaScript
// (curl, a crawler, the first paint) already tells the truth.
export function describeTotal(total) {
  if (total === 0) return 'No votes yet';
  return total === 1 ? '1 vote' : `${total} votes`;
}

export function percentages({ a, b }) {
  const total = a + b;
  const percentA = total === 0 ? 50 : (100 * a) / total;
  return { percentA: `${percentA.toFixed(1)}%`, percentB: `${(100 - percentA).toFixed(1)}%`, total: describeTotal(total) };
}

// scores: {a, b}, or null while the database has not answered yet.
export function renderPage({ optionA, optionB }, scores = null) {
  const shown = scores === null
    ? { percentA: '50.0%', percentB: '50.0%', total: 'Waiting for the first count' }
    : percentages(scores);
  const values = { optionA: escapeHtml(optionA), optionB: escapeHtml(optionB), ...shown };
  return PAGE_TEMPLATE.replace(/\{\{(optionA|optionB|percentA|percentB|total)\}\}/g, (_, key) => values[key]);
}

// Express answers an unknown method with 404; a tester expects 405 and Allow.
function onlyGet(app, path) {
  app.all(path, (req, res) => res.set('Allow', 'GET, HEAD').status(405).type('text').send('405 Method Not Allowed\n'));
}

export function createResultServer({ config, scoreboard }) {
  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    // frame-ancestors: no other site may frame the page.
    res.set('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'");
    next();
  });

  // Rendered per request with the current counts (a string replace: cheap).
  app.get('/', (req, res) => res.type('html').send(renderPage(config, scoreboard.scores)));
  onlyGet(app, '/');

  app.get('/api/scores', (req, res) => {
    if (!scoreboard.available) {
      // The cause (host, user, driver message) stays in the log, not in the answer.
      res.status(503).json({ error: 'database unavailable' });
      return;
    }
    res.json(scoreboard.scores);
  });
  onlyGet(app, '/api/scores');

  // The process serves: what the probes ask, whatever the database's state.
  app.get('/livez', (req, res) => res.json({ status: 'ok', version: config.version }));

  // Dependency health: the database answers.
  app.get('/healthz', (req, res) => {
    const up = scoreboard.dbUp === true;
    res.status(up ? 200 : 503).json({
      status: up ? 'ok' : 'unavailable',
      db: up ? 'up' : 'down',
      version: config.version,
    });
  });
  onlyGet(app, '/livez');
  onlyGet(app, '/healthz');

  app.use(express.static(new URL('public/', ROOT).pathname, { index: false }));

  app.use((req, res) => res.status(404).type('text').send('404 Not Found\n'));
  // Express's default handler would print the stack trace to the client.
  app.use((err, req, res, _next) => {
    console.error(err);
    res.status(err.status >= 400 && err.status < 500 ? err.status : 500).type('text').send('request failed\n');
  });

  const httpServer = createServer(app);
  // The client script is served from the npm package at
  // /socket.io/socket.io.js: no CDN, the cluster may have no internet.
  const io = new Server(httpServer, { serveClient: true });
  io.on('connection', (socket) => {
    if (scoreboard.scores !== null) socket.emit('scores', scoreboard.scores);
  });
  const broadcast = (scores) => io.emit('scores', scores);
  scoreboard.on('scores', broadcast);

  const close = () => new Promise((resolve) => {
    scoreboard.off('scores', broadcast);
    io.close(() => resolve());
  });
  return { app, httpServer, io, close };
}
