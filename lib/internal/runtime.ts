// Which JavaScript runtime runs solely (Node, Bun or Deno, all of which load Node-API addons), for
// the errors that say what this one cannot do.
const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };

/** "Node 20.19.0", "Bun 1.4.5" or "Deno 2.9.6". */
export function runtimeName(): string {
  if (versions.bun !== undefined) return `Bun ${versions.bun}`;
  if (versions.deno !== undefined) return `Deno ${versions.deno}`;
  return `Node ${versions.node}`;
}

/** True on Node itself, not on a runtime that emulates its modules. */
export const onNode = versions.bun === undefined && versions.deno === undefined;
