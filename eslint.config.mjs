// ESLint: typescript-eslint's type-aware recommended rules over lib/, ESLint's recommended rules
// over the JavaScript of tests, benchmarks and scripts. `npm run lint` also runs clang-format.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'build/', 'prebuilds/']),
  {
    files: ['**/*.{js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['lib/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `import path = require('node:path')` is TypeScript's own CommonJS import.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // Waits reject with whatever an attempt threw: typed errors, passed through unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // One way to load on first use: lazy() or optionalPeer() from lib/internal/lazy-modules.ts.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'load on first use with lazy() from lib/internal/lazy-modules.ts' }],
    },
  },
  {
    // The plumbing sits below the API: of the public modules it imports only the error classes and
    // the filesystem classifier (a leaf that imports nothing public), so the graph points one way.
    files: ['lib/internal/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../errors', '!../filesystem'], message: 'lib/internal/ never imports the public API' }] }],
    },
  },
);
