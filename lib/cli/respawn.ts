// --respawn, run-one's keep-one-running: COMMAND runs again each time it exits, under the one lock
// held throughout (no moment where another `solely run` gets in), until SIGTERM or SIGINT to the
// wrapper, or the exit --until-success / --until-failure waits for.
import type { Parsed } from './args';

/** The longest delay between two runs; a run that lasted this long starts the delays over. */
export const MAX_BACKOFF_MS = 60_000;
const STOPPING_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Runs runOnce until it is time to stop; resolves with the last run's status. */
export async function respawn(runOnce: () => Promise<number>, options: Parsed, lost: () => boolean): Promise<number> {
  let stopping = false;
  let wake = (): void => {};
  // Listened beside the forwarding: COMMAND gets the signal, and is not started again.
  const stop = (): void => {
    stopping = true;
    wake();
  };
  for (const signal of STOPPING_SIGNALS) process.on(signal, stop);
  try {
    let delay = options.backoff;
    for (;;) {
      const started = Date.now();
      const status = await runOnce();
      if (stopping || lost() || finished(status, options)) return status;
      if (Date.now() - started >= MAX_BACKOFF_MS) delay = options.backoff;
      if (options.verbose) process.stderr.write(`solely: COMMAND exited with ${status}; running it again in ${delay / 1000} s\n`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopping) return status;
      delay = Math.min(delay * 2, Math.max(MAX_BACKOFF_MS, options.backoff));
    }
  } finally {
    for (const signal of STOPPING_SIGNALS) process.off(signal, stop);
  }
}

/** Whether this status ends the respawning: what --until-* waits for, or a COMMAND that cannot run. */
function finished(status: number, { until }: Parsed): boolean {
  if (status === 126 || status === 127) return true; // not found or not executable: it never will be
  return (until === 'success' && status === 0) || (until === 'failure' && status !== 0);
}
