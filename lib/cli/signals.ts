// Signals around COMMAND: which ones solely forwards, the terminal rule, and the inspector a
// SIGUSR1 may have opened before solely listened.
/* eslint-disable @typescript-eslint/no-require-imports */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lazy } from '../internal/lazy-modules';

const inspectorModule = lazy(() => require('node:inspector') as typeof import('node:inspector'));

/**
 * What a service manager or a user sends to ask a program something (stop, reload, reopen its logs).
 * Not SIGWINCH: only a terminal sends it, to its whole foreground process group, COMMAND included.
 */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/**
 * Sends signal to COMMAND by its PID, not child.kill(): after child.kill(signal) Deno reports the
 * exit as (null, signal) whatever COMMAND did with it, and solely must exit with COMMAND's status.
 */
export function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // gone already: its exit is on its way
  }
}

export interface SignalForwarding {
  /** COMMAND was spawned: it gets the signals that came before, then each one as it comes. */
  to(child: ChildProcess): void;
  stop(): void;
}

/**
 * Listens for the forwarded signals from now on. Call it before spawning: COMMAND runs (and may
 * tell the world it is ready) as soon as spawn() returns, and a signal that came before the
 * listeners would kill this wrapper and orphan COMMAND.
 */
export function forwardSignals(): SignalForwarding {
  const early: NodeJS.Signals[] = [];
  let deliver = (signal: NodeJS.Signals): void => void early.push(signal);
  const forward = (signal: NodeJS.Signals): void => deliver(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  return {
    to(child) {
      // COMMAND did not exist yet when the early ones came: they are all its to get, once (a
      // respawned COMMAND gets only what comes after).
      for (const signal of early.splice(0)) signalChild(child, signal);
      deliver = (signal) => {
        if (child.pid !== undefined && !terminalSentToBoth(signal, child.pid)) signalChild(child, signal);
      };
    },
    stop() {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    },
  };
}

/** The fields of /proc/<pid>/stat after the command name (state ppid pgrp session tty_nr tpgid ...). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone
  }
}

/**
 * True if the terminal sent this signal to COMMAND too: its keys (Ctrl-C, Ctrl-\) send SIGINT and
 * SIGQUIT to its whole foreground process group, which this process is in and COMMAND did not leave.
 */
function terminalSentToBoth(signal: NodeJS.Signals, commandPid: number): boolean {
  if (signal !== 'SIGINT' && signal !== 'SIGQUIT') return false;
  const self = statFields('self');
  const command = statFields(commandPid);
  if (self === undefined || command === undefined) return false;
  const [, , group, , , foregroundGroup] = self;
  return foregroundGroup === group && command[2] === group;
}

/**
 * A SIGUSR1 that came while Node started, before main.ts listened, opened the inspector as soon as
 * the main thread took Node's request, normally long before the lock was taken: close it, unless
 * Node was asked for it. Only a request still untaken now escapes this.
 */
export async function closeUnaskedInspector(): Promise<void> {
  const nodeOptions = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (nodeOptions.some((option) => /^--inspect(-brk|-wait)?(=|$)/.test(option))) return;
  const inspector = inspectorModule();
  // Node asks for it twice (a V8 interrupt, a wake-up of the event loop), and the later request
  // reopens what was closed after the first: one turn of the loop takes both.
  await new Promise((resolve) => setImmediate(resolve));
  if (inspector.url() !== undefined) inspector.close();
}
