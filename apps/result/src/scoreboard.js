// Polls the counts and tells listeners only when they change.

import { EventEmitter } from 'node:events';

export class Scoreboard extends EventEmitter {
  // fetchScores: async () => ({a, b}); throws while the database is down.
  constructor(fetchScores, intervalMs) {
    super();
    this.fetchScores = fetchScores;
    this.intervalMs = intervalMs;
    this.scores = null;
    // null until the first poll, so that a first failure is reported too.
    this.dbUp = null;
    this.lastError = null;
    this.timer = null;
    this.stopped = true;
  }

  get available() {
    return this.dbUp === true && this.scores !== null;
  }

  // One poll; resolves after listeners have been told. Never rejects.
  async poll() {
    try {
      const scores = await this.fetchScores();
      const changed = this.scores === null || scores.a !== this.scores.a || scores.b !== this.scores.b;
      this.scores = scores;
      if (this.dbUp !== true) {
        this.dbUp = true;
        this.lastError = null;
        this.emit('status', true);
      }
      if (changed) this.emit('scores', scores);
    } catch (err) {
      this.lastError = err.message;
      if (this.dbUp !== false) {
        this.dbUp = false;
        this.emit('status', false);
      }
    }
  }

  // setTimeout after each poll, not setInterval: a slow database then slows
  // the polling down instead of piling queries up.
  start() {
    this.stopped = false;
    const loop = async () => {
      await this.poll();
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    return loop();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
