import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFromEnv } from '../src/config.js';

test('defaults follow the spec', () => {
  const config = configFromEnv({});
  assert.equal(config.port, 80);
  assert.equal(config.optionA, 'Cats');
  assert.equal(config.optionB, 'Dogs');
  assert.equal(config.postgres.host, 'db');
  assert.equal(config.postgres.port, 5432);
  assert.equal(config.version, 'dev');
});

test('environment overrides', () => {
  const config = configFromEnv({
    PORT: '8081', OPTION_A: 'Tea', OPTION_B: 'Coffee', APP_VERSION: '1.2.3',
    POSTGRES_HOST: 'pg', POSTGRES_PORT: '5433', POSTGRES_USER: 'u', POSTGRES_PASSWORD: 'p', POSTGRES_DB: 'd',
    POLL_INTERVAL_MS: '250',
  });
  assert.deepEqual(
    [config.port, config.optionA, config.optionB, config.version, config.pollIntervalMs],
    [8081, 'Tea', 'Coffee', '1.2.3', 250],
  );
  assert.deepEqual(config.postgres, { host: 'pg', port: 5433, user: 'u', password: 'p', database: 'd' });
});

test('a malformed number is an error, not NaN', () => {
  assert.throws(() => configFromEnv({ PORT: 'eighty' }), /PORT/);
  assert.throws(() => configFromEnv({ POSTGRES_PORT: '-1' }), /POSTGRES_PORT/);
});
