/** A command line that asks for something solely does not do: exit 64 with the usage. */
export class UsageError extends Error {}
