// Node modules loaded on first use, not with the package: net, crypto and cluster pull in streams,
// child_process and dgram, most of the cost of a require('solely') that only wants a lock.
// (node:cluster's types have only a default export, which CommonJS output does not see.)
/* eslint-disable @typescript-eslint/no-require-imports */
export const net = (): typeof import('node:net') => require('node:net') as typeof import('node:net');
export const crypto = (): typeof import('node:crypto') => require('node:crypto') as typeof import('node:crypto');
export const inClusterWorker = (): boolean => (require('node:cluster') as { readonly isWorker: boolean }).isWorker;
export const isMainThread = (): boolean => (require('node:worker_threads') as typeof import('node:worker_threads')).isMainThread;
