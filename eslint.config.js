// ESLint 9 flat config: the recommended sets of ESLint and typescript-eslint, plus the
// type-aware promise rules (an un-awaited promise in a queue worker or a route handler
// loses errors silently). Style is left to the code as it is.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', '**/node_modules/', 'packages/db/generated/', 'coverage/', 'test-results/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // A variable set once after a closure that reads it (a shutdown handler) stays `let`.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // XML escaping and terminal output match control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read loosely typed JSON replies.
    files: ['**/test/**', 'test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['tsconfig.check.json', 'packages/*/tsconfig.json', 'apps/*/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // The dashboard runs in the browser as a classic script.
    files: ['apps/api/src/web/**/*.js'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'script' },
  },
);
