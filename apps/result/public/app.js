// Browser side: redraw the percentages whenever the server pushes `scores`.
/* global io */

function describe(total) {
  if (total === 0) return 'No votes yet';
  return total === 1 ? '1 vote' : `${total} votes`;
}

function show({ a, b }) {
  const total = a + b;
  const percentA = total === 0 ? 50 : (100 * a) / total;
  document.getElementById('percent-a').textContent = `${percentA.toFixed(1)}%`;
  document.getElementById('percent-b').textContent = `${(100 - percentA).toFixed(1)}%`;
  document.getElementById('choice-a').style.flexGrow = String(percentA || 0.01);
  document.getElementById('choice-b').style.flexGrow = String(100 - percentA || 0.01);
  document.getElementById('result').textContent = describe(total);
}

// While the socket is down the numbers may be stale: say so, visibly.
function connected(up) {
  document.getElementById('connection').hidden = up;
}

const socket = io();
socket.on('scores', show);
socket.on('connect', () => connected(true));
socket.on('disconnect', () => connected(false));
socket.io.on('reconnect_attempt', () => connected(false));
