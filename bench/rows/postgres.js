'use strict';
// solely/postgres against a real server started for the run (test/support/postgres-server.js).
const { HANDOVERS, uniqueName, percentile, rounds, loopAsync, line, compare } = require('../measure');

/** solely/postgres against a real server started for the run (test/support/postgres-server.js). */
async function postgres() {
  const row = 'PostgreSQL advisory lock (local server, 127.0.0.1)';
  let pg;
  let server;
  try {
    pg = require('pg');
    const { startPostgres, postgresMissing } = require('../../test/support/postgres-server');
    const missing = postgresMissing();
    if (missing !== undefined) throw new Error(missing);
    server = await startPostgres();
  } catch (error) {
    line(row, 'lockPostgres + release', { value: `n/a (${error.message.split('\n')[0]})` });
    return;
  }
  try {
    const { lockPostgres } = require('solely/postgres');
    const options = { connection: server.url };
    const key = uniqueName();
    const r = await rounds({
      connect: loopAsync(async () => {
        const client = new pg.Client(server.url);
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
      }),
      solely: loopAsync(async () => (await lockPostgres(key, options)).release()),
      solelyNoFence: loopAsync(async () => (await lockPostgres(key, { ...options, fencingTable: false })).release()),
    });
    compare(row, 'lockPostgres + release (a session each)', r, 'solely', 'connect', 'pg: connect + SELECT 1 + end');
    compare(row, '{ fencingTable: false }', r, 'solelyNoFence', 'connect', 'pg: connect + SELECT 1 + end');
    // Hand-off: the holder's release() call until the waiter, blocked in pg_advisory_lock on its own
    // session, has its lock (and its fencing token).
    const samples = [];
    const admin = new pg.Client(server.url);
    await admin.connect();
    const blocked = async () => (await admin.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).rows.length > 0;
    let held = await lockPostgres(key, options);
    for (let i = 0; i < HANDOVERS; i++) {
      const waiting = lockPostgres(key, { ...options, wait: true });
      while (!(await blocked())) await new Promise((resolve) => setTimeout(resolve, 2));
      const start = process.hrtime.bigint();
      const releasing = held.release();
      held = await waiting;
      samples.push(Number(process.hrtime.bigint() - start));
      await releasing;
    }
    await held.release();
    await admin.end();
    line(row, 'hand-off: release() → the waiter holds it, p50', { value: percentile(samples, 50) });
    line(row, 'hand-off: release() → the waiter holds it, p99', { value: percentile(samples, 99) });
  } finally {
    await server.destroy();
  }
}

module.exports = postgres;
