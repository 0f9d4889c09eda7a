// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A daemon must never drop a rejected promise on the floor.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // Void-returning callbacks (socket handlers) are the norm in this code base.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': [
        'error',
        { allowConstantLoopConditions: true },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!node:)(net|fs|http|dns|os|path|stream|events|util|tls|crypto|child_process|worker_threads|timers)(/.*)?$',
              message: 'Use the node: prefix.',
            },
          ],
        },
      ],
    },
  },
  {
    // The logic folders take time and randomness from an injected Clock / Random (core/clock.ts),
    // so that their tests can run on a manual clock and a seeded random.
    files: ['src/{balancing,backends,health,discovery,proxy,upstream,core}/**/*.ts'],
    ignores: ['src/core/clock.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Take wall time from an injected Clock (core/clock.ts).',
        },
        {
          object: 'performance',
          property: 'now',
          message: 'Take monotonic time from an injected Clock (core/clock.ts).',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Take an injected Random (core/clock.ts) so that tests can seed it.',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
