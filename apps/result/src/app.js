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

export function renderPage({ optionA, optionB }) {
  const values = { optionA: escapeHtml(optionA), optionB: escapeHtml(optionB) };
  return PAGE_TEMPLATE.replace(/\{\{(optionA|optionB)\}\}/g, (_, key) => values[key]);
}

export function createResultServer({ config, scoreboard }) {
  const app = express();
  app.disable('x-powered-by');
  const page = renderPage(config);

  app.use((req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    res.set('Content-Security-Policy', "default-src 'self'");
    next();
  });

  app.get('/', (req, res) => res.type('html').send(page));

  app.get('/api/scores', (req, res) => {
    if (!scoreboard.available) {
      res.status(503).json({ error: 'database unavailable', detail: scoreboard.lastError });
      return;
    }
    res.json(scoreboard.scores);
  });

  app.get('/healthz', (req, res) => {
    const up = scoreboard.dbUp === true;
    res.status(up ? 200 : 503).json({
      status: up ? 'ok' : 'unavailable',
      db: up ? 'up' : 'down',
      version: config.version,
    });
  });

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
