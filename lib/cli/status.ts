// `solely status`: whether a lock is held and by whom, never taking it; LSB exit statuses.
/* eslint-disable @typescript-eslint/no-require-imports */
import { existsSync, lstatSync } from 'node:fs';
import type { Holder, SolelyError } from '../errors';
import { errnoOf, fromErrno } from '../internal/errno';
import { refuseUnopenable } from '../internal/file-attempt';
import { describeHolder, printable } from '../internal/holder-message';
import { lazy } from '../internal/lazy-modules';
import { absolutePath } from '../internal/path';
import { describeError, parseSubcommand, STATUS_OPTIONS, UsageError, type TargetKind } from './args';
import { STATUS_HELP } from './help';

const postgres = lazy(() => require('../postgres') as typeof import('../postgres'));
const whoHoldsModule = lazy(() => require('../who-holds') as typeof import('../who-holds'));
const pidfile = lazy(() => require('../pidfile') as typeof import('../pidfile'));

/** LSB's "program or service status is unknown": status could not tell (EACCES, ENOTDIR, ELOOP...). */
const STATUS_UNKNOWN = 4;
const STATUS_EXIT = { held: 0, stale: 1, free: 3 } as const;

interface StatusReport {
  target: string;
  kind: TargetKind;
  state: 'held' | 'stale' | 'free';
  holder?: Holder;
  /** The PID a pidfile claims. */
  pid?: number | null;
  /** With --slots N: each slot's state and holder. */
  slots?: SlotReport[];
}

interface SlotReport {
  slot: number;
  state: 'held' | 'free';
  holder?: Holder;
}

/** Held when at least one slot is (the program is running, in LSB's words); each slot said. */
async function slotsStatusOf(kind: TargetKind, target: string, key: string | undefined, slots: number): Promise<StatusReport> {
  const holders =
    kind === 'postgres'
      ? await postgres().whoHoldsPostgres(key ?? '', { connection: target, slots })
      : whoHoldsModule().whoHolds(kind === 'abstract' ? { abstract: target } : { file: target }, { slots });
  const reports = holders.map((holder, slot): SlotReport => (holder === null ? { slot, state: 'free' } : { slot, state: 'held', holder }));
  const state = reports.some((report) => report.state === 'held') ? 'held' : 'free';
  return { target: key ?? target, kind, state, slots: reports };
}

/** Never takes the lock: /proc (and the pidfile's contents) only; pg_locks for postgres (target: URL). */
async function statusOf(kind: TargetKind, target: string, key = ''): Promise<StatusReport> {
  if (kind === 'postgres') {
    const holder = await postgres().whoHoldsPostgres(key, { connection: target });
    return holder === null ? { target: key, kind, state: 'free' } : { target: key, kind, state: 'held', holder };
  }
  const { whoHolds } = whoHoldsModule();
  if (kind === 'abstract') {
    const holder = whoHolds({ abstract: target });
    return holder === null ? { target, kind, state: 'free' } : { target, kind, state: 'held', holder };
  }
  if (kind === 'file') {
    // A symlink or socket at the path, which `solely run` would fail to open, whoHolds refuses as it does.
    const holder = whoHolds({ file: target });
    return holder === null ? { target, kind, state: 'free' } : { target, kind, state: 'held', holder };
  }
  // The pidfile first: /proc/locks says whether it is locked; only then is a holder worth a /proc scan.
  // Its holder is the process it names, as for a conflict: COMMAND under `solely run`, not the wrapper.
  const { readPidfile, pidfileHolder } = pidfile();
  const { pid, locked } = readPidfile(target);
  // Not "stale" where `solely run` would fail: a symlink or a socket it cannot open, or, unlocked, a
  // FIFO or a device it would lock but not truncate to write a PID in (locked, run says it is held).
  const path = absolutePath(target);
  const stats = lstatSync(path, { throwIfNoEntry: false });
  refuseUnopenable(stats, path);
  if (!locked && stats !== undefined && (stats.isFIFO() || stats.isCharacterDevice() || stats.isBlockDevice())) throw fromErrno(errnoOf('EINVAL'), 'ftruncate', { path });
  if (!locked) return existsSync(target) ? { target, kind, state: 'stale', pid } : { target, kind, state: 'free' };
  const holder = pidfileHolder(target, pid);
  return { target, kind, state: 'held', pid, ...(holder === undefined ? {} : { holder }) };
}

function describeStatus(report: StatusReport): string {
  const target = printable(report.target); // one line, as run says it; --json keeps it raw
  const where = report.kind === 'abstract' ? `@${target}` : report.kind === 'postgres' ? `postgres advisory lock ${target}` : target;
  if (report.slots !== undefined) {
    const held = report.slots.filter((slot) => slot.state === 'held').length;
    const lines = report.slots.map(({ slot, state, holder }) => `  slot ${slot}: ${state === 'free' ? 'not held' : heldBy(holder)}`);
    return [`${where}: ${held} of ${report.slots.length} slots held`, ...lines].join('\n');
  }
  switch (report.state) {
    case 'held':
      return `${where}: ${heldBy(report.holder)}`;
    case 'stale':
      return `${where}: stale (not locked${report.pid === null || report.pid === undefined ? '' : `; it names pid ${report.pid}`})`;
    case 'free':
      return `${where}: not held`;
  }
}

function heldBy(holder: Holder | undefined): string {
  const described = describeHolder(holder);
  return `held${described === '' ? '' : ` by ${described}`}`;
}

export async function status(args: string[]): Promise<number> {
  const options = parseSubcommand(args, STATUS_OPTIONS, STATUS_HELP);
  if (options === null) return 0;
  if (options.rest.length > 0) throw new UsageError(`unexpected argument ${options.rest[0]}`);
  const { kind, value } = options.target;
  let report: StatusReport;
  try {
    report = options.slots === undefined ? await statusOf(kind, value, options.key) : await slotsStatusOf(kind, value, options.key, options.slots);
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n`);
    if (options.json) {
      const { code, message } = error as SolelyError;
      process.stdout.write(`${JSON.stringify({ target: options.key ?? value, kind, state: 'unknown', error: { code, message } })}\n`);
    }
    return STATUS_UNKNOWN;
  }
  process.stdout.write(`${options.json ? JSON.stringify(report) : describeStatus(report)}\n`);
  return STATUS_EXIT[report.state];
}
