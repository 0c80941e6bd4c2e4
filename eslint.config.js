// Lint rules that keep the layout honest: the pure core imports no I/O.
import tseslint from 'typescript-eslint';

const io = ['node:*', 'fs', 'path', 'os', 'child_process', '@aws-sdk/*', 'execa', 'fast-glob', 'clipanion'];
const pureFolders = ['src/model/**', 'src/plan/**', 'src/manifest/**', 'src/view/**', 'src/config/parse.ts', 'src/config/positions.ts', 'src/config/env-references.ts', 'src/config/schema.ts', 'src/config/schema-errors.ts', 'src/config/meaning.ts', 'src/config/build.ts', 'src/config/glob.ts', 'src/config/place.ts', 'src/ledger/merge.ts', 'src/planfile/format.ts', 'src/planfile/write.ts', 'src/planfile/json.ts', 'src/planfile/refused.ts'];
const ioPatterns = io.map((group) => ({ group: [group], message: 'pure modules do no I/O; move this to an adapter' }));
// Views render values whose types live in model/: they never reach into apply/, ops/ or the planner.
const viewPatterns = [{ group: ['../apply/*', '../ops/*', '../plan/*'], message: 'view/ renders model/ values; move the type or the pure helper to model/ (or compute it before the view)' }];
// Words live in view/ and only the command line shows them: the core hands over codes and facts.
const noViewPatterns = [{ regex: '(^|/)view/', message: 'only src/cli/ (and view/ itself) imports view/: hand over a value from model/ and let the command line word it' }];
const viewImporters = ['src/cli/**', 'src/view/**'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.dualsync/**', '.demo/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**'],
    ignores: viewImporters,
    rules: {
      'no-restricted-imports': ['error', { patterns: noViewPatterns }],
    },
  },
  {
    files: pureFolders,
    rules: {
      'no-restricted-imports': ['error', { patterns: [...ioPatterns, ...noViewPatterns] }],
      'no-restricted-globals': ['error', { name: 'process', message: 'pure modules read no environment' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'pure modules read no clock' },
        { object: 'Math', property: 'random', message: 'pure modules use no randomness' },
      ],
    },
  },
  {
    files: ['src/view/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...ioPatterns, ...viewPatterns] }],
    },
  },
);
