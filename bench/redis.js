'use strict';
// solely/redis against the bare round trips, with the same client (ioredis) on a redis-server of
// its own (started as the tests start theirs, on a private port; AOF on, fsync left to the OS):
//   solely      lockRedis(key) + release(): its own connection, the acquire and release scripts, QUIT
//   bare+conn   a new connection, SET key value NX PX 10000, DEL key, QUIT: what solely does, unsafely
//   bare        SET NX PX + DEL on a connection kept open: the floor
// Rounds interleave the three in rotating order; each figure is the median over rounds of the
// mean time per acquire+release, and each ratio the median of the ratios within a round.
//   node bench/redis.js [--quick]
const Redis = require('ioredis');
const { lockRedis } = require('solely/redis');
const { startRedis } = require('../test/redis-server');

const QUICK = process.argv.includes('--quick');
const ROUNDS = QUICK ? 3 : 15;
const PER_ROUND = QUICK ? 20 : 200;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
  const server = await startRedis();
  const kept = new Redis(server.url);
  // An fsync per write (what restart-safe tokens need) would measure the disk, and vary with it.
  await kept.config('SET', 'appendfsync', 'no');
  try {
    const contenders = {
      solely: async (key) => (await lockRedis(key, { connection: server.url })).release(),
      'bare+conn': async (key) => {
        const client = new Redis(server.url);
        await client.set(key, 'x', 'PX', 10_000, 'NX');
        await client.del(key);
        await client.quit();
      },
      bare: async (key) => {
        await kept.set(key, 'x', 'PX', 10_000, 'NX');
        await kept.del(key);
      },
    };
    const names = Object.keys(contenders);
    const times = Object.fromEntries(names.map((name) => [name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(round + i) % names.length];
        const start = performance.now();
        for (let n = 0; n < PER_ROUND; n++) await contenders[name](`bench-${name}`);
        times[name].push((performance.now() - start) / PER_ROUND);
      }
    }
    const ratio = (a, b) => median(times[a].map((t, round) => t / times[b][round]));
    for (const name of names) console.log(`${name.padEnd(10)} ${(median(times[name]) * 1000).toFixed(0).padStart(6)} µs per acquire+release`);
    console.log(`solely / bare+conn  ${ratio('solely', 'bare+conn').toFixed(2)}x`);
    console.log(`solely / bare       ${ratio('solely', 'bare').toFixed(2)}x`);
  } finally {
    kept.disconnect();
    await server.destroy();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
