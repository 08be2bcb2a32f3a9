// "At most N": a lock with `slots: N` is one of N locks, slot i being the lock named
// slotName(name, i). Slot 0 is the name itself, so `slots: 1` is the plain lock, and a C or Python
// peer takes slot i by locking that name (docs/shared-and-slots.md). Which slot is free is for the
// kernel (or the server) to say: slots are tried in order, and a waiter waits on all of them.
import { invalidArgument } from './errno';
import type { Waiter, WakeCause } from './wait';

/** The most slots a lock may have: a waiter keeps one fd (or session) per slot while it waits. */
export const MAX_SLOTS = 1024;

/** The options every mechanism with slots and shared locks reads. */
export interface SlotOptions {
  slots?: unknown;
  shared?: unknown;
}

/** What a lock call asks for, checked: how many slots, and whether shared (never both). */
export interface SlotRequest {
  slots: number;
  shared: boolean;
}

/** options.slots and options.shared, checked; `shared: true` with `slots` is refused. */
export function parseSlots(o: SlotOptions): SlotRequest {
  const { slots = 1, shared = false } = o;
  if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.slots', `an integer from 1 to ${MAX_SLOTS}`, slots);
  }
  if (typeof shared !== 'boolean') throw invalidArgument('ERR_INVALID_ARG_TYPE', 'options.shared', 'of type boolean', shared);
  if (shared && o.slots !== undefined) {
    throw invalidArgument('ERR_INVALID_ARG_VALUE', 'options.slots', 'absent with shared: true (a shared lock has any number of holders)', slots);
  }
  return { slots, shared };
}

/** The lock that is slot i of name: the name itself for slot 0, else name + '.' + i. */
export function slotName(name: string, slot: number): string {
  return slot === 0 ? name : `${name}.${slot}`;
}

/**
 * Each slot's name, slot 0's first, every one checked by check (a name's or a path's own check)
 * before any is used: a name that fits may not fit with a high slot's suffix.
 */
export function slotNames(name: string, slots: number, check: (name: string) => string): string[] {
  return perSlot(slots, (slot) => check(slotName(name, slot)));
}

/** [each(0), ..., each(slots - 1)]: one value per slot. Written for a lock's hot path, where
 *  Array.from({ length }) costs more than the rest of its JavaScript, and an empty array grown by
 *  push allocates room for 17. */
export function perSlot<T>(slots: number, each: (slot: number) => T): T[] {
  const values = [each(0)];
  for (let slot = 1; slot < slots; slot++) values.push(each(slot));
  return values;
}

/**
 * The first of attempts (slot 0 first) that gives a lock, or null when every slot is held: each
 * is one non-blocking attempt, so whichever frees first is found.
 */
export function firstFree<T>(slots: number, attempt: (slot: number) => T | null): T | null {
  for (let slot = 0; slot < slots; slot++) {
    const lock = attempt(slot);
    if (lock !== null) return lock;
  }
  return null;
}

/**
 * One waiter over every slot's waiter: armed, each slot's own wake-up source (the kernel's event
 * for that slot) wakes the wait, and an attempt tries every slot, lowest first. Which waiter gets
 * a freed slot is the kernel's choice: its bind or lock succeeds for exactly one.
 */
export function anySlot<T>(waiters: readonly Waiter<T>[]): Waiter<T> {
  if (waiters.length === 1) return waiters[0];
  const disarmAll = (): void => {
    for (const waiter of waiters) waiter.disarm();
  };
  return {
    attempt(): T | null {
      return firstFree(waiters.length, (slot) => waiters[slot].attempt()); // the wait disarms them all
    },
    arm(wake: (cause?: WakeCause) => void): void {
      for (const waiter of waiters) waiter.arm(wake);
    },
    disarm: disarmAll,
  };
}
