// Entry point: node server.js

import { configFromEnv } from './src/config.js';
import { createPool, fetchScores } from './src/db.js';
import { createResultServer } from './src/app.js';
import { Scoreboard } from './src/scoreboard.js';

const config = configFromEnv();
const pool = createPool(config.postgres);
const scoreboard = new Scoreboard(() => fetchScores(pool), config.pollIntervalMs);
scoreboard.on('status', (up) => console.log(up ? 'postgres is up' : `postgres is down: ${scoreboard.lastError}`));

const { httpServer, close } = createResultServer({ config, scoreboard });
scoreboard.start();
httpServer.listen(config.port, () => console.log(`result listening on port ${config.port}`));

const shutdown = async () => {
  scoreboard.stop();
  await close();
  await pool.end();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
