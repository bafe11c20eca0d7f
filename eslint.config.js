// @ts-check
// `npm run lint`: the same configuration as generated services (generators/app/templates/eslint.config.mjs.ejs)
// on the generator's own TypeScript; the templates are linted in the services they generate.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'generators/*/templates/', '__tests__/**/__snapshots__/'] },
  {
    files: ['**/*.ts'],
    extends: [eslint.configs.recommended, tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Relaxed: a number in a template literal prints one way only (unlike objects, null or undefined).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Off: Yeoman run-loop methods and test callbacks are async by contract; a body with nothing to await is
      // still correct. Promise misuse stays caught by no-floating-promises and no-misused-promises.
      '@typescript-eslint/require-await': 'off',
      // Relaxed: `const { dropped, ...rest } = value` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    rules: {
      // Off in tests: vitest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any`, and
      // putting them in an expected object is what they are for. Reading an `any` stays an error.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
