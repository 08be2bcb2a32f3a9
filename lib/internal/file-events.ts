// File-lock waiters are woken by inotify: one instance per thread serves all of them. Watches are
// added and removed as waits come and go; the instance stays open (closing one waits for a kernel
// grace period), and is polled only while some wait is armed, so it never keeps a process alive.
import { binding, type FdWatch } from './binding';

let notify = -1;
let watcher: FdWatch | undefined;
let polling = false;
const wakers = new Map<number, Set<() => void>>();

function onEvents(): void {
  const wds = binding.inotifyRead(notify);
  if (typeof wds === 'number') return;
  for (const wd of wds) {
    const wakes = wakers.get(wd);
    if (wakes !== undefined) for (const wake of [...wakes]) wake();
  }
}

/** Calls wake whenever fd's file is closed (by anyone), unlinked or renamed. The watch, or -errno. */
export function watchFile(fd: number, wake: () => void): number {
  if (notify < 0) {
    const created = binding.inotifyInit();
    if (created < 0) return created;
    notify = created;
    watcher = new binding.FdWatch(onEvents);
  }
  const wd = binding.inotifyAddWatch(notify, fd);
  if (wd < 0) return wd;
  if (!polling) {
    const started = (watcher as FdWatch).start(notify);
    if (started < 0) {
      if (!wakers.has(wd)) binding.inotifyRmWatch(notify, wd);
      return started;
    }
    polling = true;
  }
  let wakes = wakers.get(wd);
  if (wakes === undefined) wakers.set(wd, (wakes = new Set()));
  wakes.add(wake);
  return wd;
}

/** Undoes one watchFile. */
export function unwatchFile(wd: number, wake: () => void): void {
  const wakes = wakers.get(wd);
  if (wakes === undefined || !wakes.delete(wake) || wakes.size > 0) return;
  wakers.delete(wd); // the inode's last waiter: the kernel watch goes too
  binding.inotifyRmWatch(notify, wd);
  if (wakers.size === 0 && polling) {
    watcher?.stop();
    polling = false;
  }
}
