// Container health check without curl: GET /healthz on $PORT.

const url = `http://127.0.0.1:${process.env.PORT || 80}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exit(res.status === 200 ? 0 : 1);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
