'use strict';
// Docs that cannot rot: every export, option key and error code is in docs/ and nothing documented
// there is missing from the code (both read from the shipped types in dist/ by the TypeScript
// checker); every fenced code block meant to run is run, on this Node, as the module type it names.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, test, before, after } = require('node:test');
const ts = require('typescript');
const { tempDir, spawnReady, exited, has, needs } = require('../support/helpers');
const { startPostgres, postgresMissing } = require('../support/postgres-server');
const { ROOT, documents, read, tables, fences } = require('../support/docs-reader');

const ENTRIES = { solely: 'dist/index.d.ts', 'solely/postgres': 'dist/postgres/index.d.ts', 'solely/redis': 'dist/redis/index.d.ts', 'solely/dbus': 'dist/dbus/index.d.ts' };

/** The shipped declarations, as the TypeScript checker sees them: each entry's exported symbols. */
function declarations() {
  const files = Object.values(ENTRIES).map((file) => path.join(ROOT, file));
  const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true, types: ['node'], target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS });
  const checker = program.getTypeChecker();
  const exports = new Map();
  for (const [entry, file] of Object.entries(ENTRIES)) {
    const source = program.getSourceFile(path.join(ROOT, file));
    exports.set(entry, checker.getExportsOfModule(checker.getSymbolAtLocation(source)));
  }
  return { checker, exports };
}

const resolved = (checker, symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

/** The string literals of a union type (a type alias like SolelyErrorCode), template literal members left out. */
function literals(checker, symbol) {
  const type = checker.getDeclaredTypeOfSymbol(resolved(checker, symbol));
  return (type.isUnion() ? type.types : [type]).filter((member) => member.isStringLiteral()).map((member) => member.value);
}

/** Option keys of every exported function: the properties of its last parameter's type, when that is an object. */
function optionKeys(checker, exports) {
  const keys = new Map();
  for (const [entry, symbols] of exports) {
    for (const symbol of symbols) {
      const target = resolved(checker, symbol);
      if (!(target.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Variable))) continue;
      const type = checker.getTypeOfSymbol(target);
      for (const signature of type.getCallSignatures()) {
        const last = signature.parameters.at(-1);
        if (last === undefined || signature.parameters.length < 2 || !/^o(ptions)?$/.test(last.name)) continue;
        const optionsType = checker.getNonNullableType(checker.getTypeOfSymbol(last));
        for (const property of checker.getPropertiesOfType(checker.getApparentType(optionsType))) keys.set(property.name, `${entry}: ${symbol.name}`);
      }
    }
  }
  return keys;
}

/** Every property name of every exported type (interfaces, classes, their members): what a `name?:` in the docs may describe. */
function propertyNames(checker, exports) {
  const names = new Set();
  for (const symbols of exports.values()) {
    for (const symbol of symbols) {
      const target = resolved(checker, symbol);
      const types = [];
      if (target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias)) types.push(checker.getDeclaredTypeOfSymbol(target));
      for (const type of types) for (const property of checker.getPropertiesOfType(checker.getApparentType(type))) names.add(property.name);
    }
  }
  return names;
}

/** Options the docs document: `name?:` in TypeScript blocks and the first column of option tables, with where. */
function documentedOptions() {
  const found = new Map();
  for (const document of documents()) {
    const { prose, blocks } = fences(read(document));
    for (const { body } of blocks.filter((block) => block.info === 'ts')) for (const [, name] of body.matchAll(/\b(\w+)\?:/g)) if (name !== 'o') found.set(name, document);
    for (const table of tables(prose).filter((t) => t.header[0] === 'option')) for (const { cells } of table.rows) found.set(cells[0].replaceAll('`', ''), document);
  }
  return found;
}

/** Names api.md declares at the top level of its TypeScript blocks: functions, classes and interfaces. */
function declaredInApi() {
  const names = new Set();
  for (const { info, body } of fences(read('docs/api.md')).blocks) {
    if (info !== 'ts') continue;
    for (const [, name] of body.matchAll(/^(?:class |interface )?([A-Za-z]\w*)\s*[<({]/gm)) names.add(name);
    for (const [, name] of body.matchAll(/^(?:class|interface) (\w+)/gm)) names.add(name);
  }
  return names;
}

/** Codes in the code column of the tables of docs/errors.md. */
function documentedCodes() {
  const codes = new Set();
  for (const table of tables(fences(read('docs/errors.md')).prose)) {
    const column = table.header.findIndex((cell) => /^`?code`?$|^deprecated `code`$/.test(cell));
    if (column < 0) continue;
    for (const { cells } of table.rows) for (const [, code] of cells[column].matchAll(/`([A-Z][A-Z0-9_]+)`/g)) codes.add(code);
  }
  return codes;
}

describe('docs/ and the code agree', () => {
  let checker;
  let exports;
  before(() => ({ checker, exports } = declarations()));

  test('every export of solely and its subpaths is in docs/api.md, and api.md declares nothing the entries lack', () => {
    const api = read('docs/api.md');
    const runtime = Object.keys(ENTRIES).flatMap((entry) => Object.keys(require(entry)));
    assert.ok(runtime.includes('lockAbstractSync') && runtime.includes('lockPostgres') && runtime.includes('checkBusName'), 'the entries were read');
    // In code: a code span of the prose or a code block; a word in a sentence does not count.
    const { prose, blocks } = fences(api);
    const code = [...blocks.map((block) => block.body), ...[...prose.matchAll(/`[^`\n]+`/g)].map(([span]) => span)].join('\n');
    const undocumented = [...new Set(runtime)].filter((name) => !new RegExp(`(?<![\\w$])${name}(?![\\w$])`).test(code));
    assert.deepEqual(undocumented, [], `exports docs/api.md does not mention in code: ${undocumented.join(', ')}`);
    const exported = new Set([...exports.values()].flatMap((symbols) => symbols.map((symbol) => symbol.name)));
    const declared = declaredInApi();
    assert.ok(declared.has('lockFileSync') && declared.has('Lock') && declared.has('PostgresLockOptions'), `api.md's declarations were read: ${[...declared].join(', ')}`);
    const unknown = [...declared].filter((name) => !exported.has(name));
    assert.deepEqual(unknown, [], `docs/api.md declares names no entry exports: ${unknown.join(', ')}`);
  });

  test('every option key of every exported function is documented in docs/, and every documented option is in the types', () => {
    const keys = optionKeys(checker, exports);
    assert.ok(keys.has('wait') && keys.has('onNetworkFilesystem') && keys.has('keepaliveInterval') && keys.has('maxMessageBytes'), `the option types were read: ${[...keys.keys()].join(', ')}`);
    const documented = documentedOptions();
    const undocumented = [...keys].filter(([name]) => !documented.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(undocumented, [], `option keys no signature or option table in docs/ names: ${undocumented.join(', ')}`);
    const known = propertyNames(checker, exports);
    const stale = [...documented].filter(([name]) => !keys.has(name) && !known.has(name)).map(([name, where]) => `${name} (${where})`);
    assert.deepEqual(stale, [], `documented options the types do not have: ${stale.join(', ')}`);
  });

  test('every error code and error class the code has is in docs/errors.md, and every code there is one the code has', () => {
    const solely = new Map(exports.get('solely').map((symbol) => [symbol.name, symbol]));
    const errno = new Set(literals(checker, solely.get('ErrnoCode')));
    const all = new Set(literals(checker, solely.get('SolelyErrorCode')));
    const deprecated = literals(checker, solely.get('DeprecatedSolelyErrorCode'));
    const own = [...all].filter((code) => !errno.has(code));
    assert.ok(own.includes('ELOCKED') && own.includes('ERR_SOLELY_LOCK_LOST') && errno.has('EACCES') && deprecated.includes('ELOCKLOST'), `the code types were read: ${own.join(', ')}`);
    const documented = documentedCodes();
    const missing = [...own, ...deprecated].filter((code) => !documented.has(code));
    assert.deepEqual(missing, [], `codes docs/errors.md does not list: ${missing.join(', ')}`);
    const unknown = [...documented].filter((code) => !all.has(code) && !deprecated.includes(code));
    assert.deepEqual(unknown, [], `codes in docs/errors.md that SolelyErrorCode does not have: ${unknown.join(', ')}`);
    const errors = read('docs/errors.md');
    const classes = Object.entries(require('solely')).filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error).map(([name]) => name);
    assert.ok(classes.includes('LockHeldError'), 'the error classes were read');
    const undocumented = classes.filter((name) => !errors.includes(`\`${name}\``));
    assert.deepEqual(undocumented, [], `error classes docs/errors.md does not name: ${undocumented.join(', ')}`);
  });
});

// ---- Runnable code blocks -------------------------------------------------------------------

const NOT_JAVASCRIPT = new Set(['', 'ts', 'sh', 'ini', 'cron', 'lua']);
const JAVASCRIPT = new Set(['js', 'cjs', 'mjs']);
const MODIFIERS = new Set(['fragment', 'daemon']);

/**
 * How a block runs, from its info string (DESIGN.md): a whole program unless it says `fragment`;
 * `cjs`/`mjs` name the module type; a plain `js` block is ESM when it has a top-level import or
 * export, CommonJS otherwise. `daemon` marks a program that runs until SIGTERM: it is ready once it
 * prints a line, and must then exit 0 on SIGTERM.
 */
function plan({ info, body }) {
  const [language, ...words] = info.split(/\s+/).filter(Boolean);
  if (!JAVASCRIPT.has(language ?? '') || words.includes('fragment')) return null;
  const esm = language === 'mjs' || (language === 'js' && /^(?:import|export)\b/m.test(body));
  return { extension: esm ? '.mjs' : '.cjs', daemon: words.includes('daemon'), postgres: /['"]solely\/postgres['"]/.test(body), dbus: /['"]solely\/dbus['"]/.test(body) };
}

/** A fresh project whose node_modules/solely is this checkout, with an XDG_RUNTIME_DIR of its own. */
function project(t) {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'solely'));
  fs.mkdirSync(path.join(dir, 'run'), { mode: 0o700 });
  return dir;
}

// Abstract names are per network namespace: a block runs in one of its own where it can, so that
// its example names meet no other run's. PostgreSQL blocks need the host's loopback.
const isolate = has('unshare') && spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore' }).status === 0;

function collect(child) {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  return () => ({ stdout, stderr });
}

const blocks = documents().flatMap((document) => fences(read(document)).blocks.map((block) => ({ document, ...block })));

test('every fenced code block in the docs names a language the docs test knows', () => {
  const unknown = blocks.filter(({ info }) => {
    const [language = '', ...words] = info.split(/\s+/).filter(Boolean);
    return !(NOT_JAVASCRIPT.has(language) || JAVASCRIPT.has(language)) || words.some((word) => !MODIFIERS.has(word));
  });
  assert.deepEqual(unknown.map(({ document, line, info }) => `${document}:${line}: "${info}"`), []);
  assert.ok(blocks.filter((block) => plan(block) !== null).length >= 10, 'the runnable blocks were found');
});

describe('every fenced code block in the docs runs on Node 20', () => {
  const runnable = blocks.map((block) => ({ ...block, plan: plan(block) })).filter((block) => block.plan !== null);
  const postgresSkip = runnable.some((block) => block.plan.postgres) ? postgresMissing() : undefined;
  const dbusSkip = needs('dbus-daemon');
  let server;
  let bus;

  before(async () => {
    if (!postgresSkip && runnable.some((block) => block.plan.postgres)) server = await startPostgres();
    if (!dbusSkip && runnable.some((block) => block.plan.dbus)) {
      // The distribution's session bus configuration, listening in a directory of our own.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solely-docs-bus-'));
      const cleanup = [];
      const daemon = await spawnReady({ after: (fn) => cleanup.push(fn) }, 'dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1', `--address=unix:path=${dir}/bus`], { stdio: ['ignore', 'pipe', 'ignore'] });
      bus = { address: daemon.firstLine, dir, daemon, cleanup };
    }
  });
  after(async () => {
    await server?.destroy();
    if (bus !== undefined) {
      for (const fn of bus.cleanup) await fn();
      fs.rmSync(bus.dir, { recursive: true, force: true });
    }
  });

  for (const block of runnable) {
    const skip = (block.plan.postgres && postgresSkip) || (block.plan.dbus && dbusSkip) || false;
    test(`${block.document}:${block.line} (${block.info})`, { skip }, async (t) => {
      const dir = project(t);
      const file = path.join(dir, `block${block.plan.extension}`);
      fs.writeFileSync(file, block.body);
      const env = { ...process.env, XDG_RUNTIME_DIR: path.join(dir, 'run') };
      if (block.plan.postgres) env.DATABASE_URL = server.url;
      if (block.plan.dbus) env.DBUS_SESSION_BUS_ADDRESS = bus.address;
      const [command, args] = isolate && !block.plan.postgres ? ['unshare', ['-rn', process.execPath, file]] : [process.execPath, [file]];
      const options = { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] };
      let child;
      let output;
      if (block.plan.daemon) {
        child = await spawnReady(t, command, args, options);
        output = collect(child);
        child.kill('SIGTERM');
      } else {
        child = spawn(command, args, options);
        output = collect(child);
      }
      await exited(child);
      const { stdout, stderr } = output();
      assert.equal(child.exitCode, 0, `${block.document}:${block.line} exited ${child.exitCode ?? child.signalCode}\n${stdout}${stderr}`);
      assert.equal(stderr, '', `${block.document}:${block.line} wrote to stderr`);
    });
  }
});

test('bench:readme and stress:readme write their generated tables into docs/performance.md and docs/reliability.md', (t) => {
  const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.match(scripts['bench:readme'], /\| node scripts\/readme-section\.js docs\/performance\.md performance$/);
  assert.match(scripts['stress:readme'], /\| node scripts\/readme-section\.js docs\/reliability\.md reliability$/);
  for (const [page, name] of [['docs/performance.md', 'performance'], ['docs/reliability.md', 'reliability']]) {
    const copy = path.join(tempDir(t), path.basename(page));
    fs.copyFileSync(path.join(ROOT, page), copy);
    const written = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'readme-section.js'), copy, name], { input: '| new | table |\n', encoding: 'utf8' });
    assert.equal(written.status, 0, written.stderr);
    const text = fs.readFileSync(copy, 'utf8');
    assert.ok(text.includes(`<!-- ${name}:start -->\n| new | table |\n<!-- ${name}:end -->`), `${page}: the section was replaced`);
    assert.equal(text.replace(/<!-- \w+:start -->[\s\S]*<!-- \w+:end -->/, ''), read(page).replace(/<!-- \w+:start -->[\s\S]*<!-- \w+:end -->/, ''), `${page}: nothing else changed`);
  }
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading) => heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replaceAll(' ', '-');

test('every relative link in the docs names a file that exists, and an anchor that one of its headings makes', () => {
  const problems = [];
  for (const document of documents()) {
    const { prose } = fences(read(document));
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [file, hash] = target.split('#');
      const linked = file === '' ? document : path.relative(ROOT, path.resolve(ROOT, path.dirname(document), file));
      if (!fs.existsSync(path.join(ROOT, linked))) {
        problems.push(`${document}: ${target}: no such file`);
        continue;
      }
      if (hash === undefined) continue;
      const anchors = fences(read(linked)).prose.split('\n').flatMap((line) => /^#+ (.+)$/.exec(line)?.slice(1) ?? []).map(anchor);
      if (!anchors.includes(hash)) problems.push(`${document}: ${target}: no heading makes #${hash}`);
    }
  }
  assert.deepEqual(problems, []);
});
