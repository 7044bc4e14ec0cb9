import type { Progress } from '../pipeline/bench-types.js';

/**
 * Progress on stderr: one redrawn line with a bar and an ETA on a TTY, plain
 * lines (at most one every few seconds, plus each phase) without one.
 */
export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let total = 0;
  let done = 0;
  let label = '';
  let started = 0;
  let lastPlain = 0;
  const eta = () => {
    if (done === 0) return '';
    const s = ((Date.now() - started) / done) * (total - done) / 1000;
    return ` eta ${s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s)}s`}`;
  };
  return {
    start(n, l) {
      total = n;
      done = 0;
      label = l;
      started = Date.now();
      if (!tty) stream.write(`perflab: ${label}: ${n} samples\n`);
    },
    tick(detail) {
      done++;
      if (tty) {
        const width = 24;
        const filled = Math.round((done / Math.max(total, 1)) * width);
        const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${eta()} ${detail}`;
        stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
      } else if (Date.now() - lastPlain > 5000 || done === total) {
        lastPlain = Date.now();
        stream.write(`perflab: ${label} ${done}/${total}${eta()} ${detail}\n`);
      }
    },
    log(message) {
      stream.write(tty ? `\r\x1b[2K${message}\n` : `${message}\n`);
    },
    done() {
      if (tty) stream.write('\r\x1b[2K');
    },
  };
}
