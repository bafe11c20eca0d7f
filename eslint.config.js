// @ts-check
// `npm run lint`: the configuration generated services get (generators/app/templates/eslint.config.mjs.ejs), rule
// for rule (the reasons for relaxing a rule are the services'), on the generator's own TypeScript;
// __tests__/lint.test.ts runs it in `npm test`. Differences, each for a reason: the templates are ignored (they are
// linted in the services they generate), and the tests are in __tests__/ (vitest) instead of test/ (jest).
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
      // Relaxed: a number in a template literal prints one way only (unlike objects, null or undefined), and log
      // lines and error messages print counts and sequences all the time.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // A `default` branch counts: status switches over a client's many event kinds handle a few and log the rest.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // Off: Yeoman run-loop methods and test callbacks here (Fastify plugins, hooks and event handlers in services)
      // are async by contract (they return a promise); a body with nothing to await is still correct. Promise misuse
      // stays caught by no-floating-promises and no-misused-promises.
      '@typescript-eslint/require-await': 'off',
      // Relaxed: `const { dropped, ...rest } = value` is how a field is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // Relaxed: `interface EventMap extends EventsBySchema {}` makes TypeScript derive each event type once (see
      // src/types/events.ts); an interface that extends exactly one type is the way to name it.
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    rules: {
      // Off in tests: vitest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any`, and putting
      // them in an expected object is what they are for. Reading an `any` (no-unsafe-member-access) stays an error.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
);
