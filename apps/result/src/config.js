// The result service's whole configuration, read from the environment in one place.

function integer(value, fallback, name) {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

export function configFromEnv(env = process.env) {
  return {
    port: integer(env.PORT, 80, 'PORT'),
    optionA: env.OPTION_A || 'Cats',
    optionB: env.OPTION_B || 'Dogs',
    version: env.APP_VERSION || 'dev',
    pollIntervalMs: integer(env.POLL_INTERVAL_MS, 1000, 'POLL_INTERVAL_MS'),
    postgres: {
      host: env.POSTGRES_HOST || 'db',
      port: integer(env.POSTGRES_PORT, 5432, 'POSTGRES_PORT'),
      user: env.POSTGRES_USER || 'postgres',
      password: env.POSTGRES_PASSWORD || undefined,
      database: env.POSTGRES_DB || 'postgres',
    },
  };
}
