// Lint rules. firmware/ gets a second, much stricter set: it runs on the
// Espruino interpreter, which lacks much of modern JS
// (see ../shared/reference/espruino-facts.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const espruinoSyntax = [
  { selector: 'ObjectPattern', message: 'Espruino has no destructuring.' },
  { selector: 'ArrayPattern', message: 'Espruino has no destructuring.' },
  { selector: 'SpreadElement', message: 'Espruino has no spread.' },
  { selector: 'RestElement', message: 'Espruino has no rest parameters.' },
  { selector: 'AssignmentPattern', message: 'Espruino has no default parameters.' },
  { selector: ':function[async=true]', message: 'Espruino has no async/await.' },
  { selector: 'AwaitExpression', message: 'Espruino has no async/await.' },
  { selector: ':function[generator=true]', message: 'Espruino has no generators.' },
  { selector: 'ChainExpression', message: 'Espruino has no optional chaining (?.); test explicitly.' },
  { selector: 'BinaryExpression[operator="**"]', message: 'Espruino has no ** operator; use Math.pow.' },
  { selector: 'AssignmentExpression[operator="**="]', message: 'Espruino has no ** operator; use Math.pow.' },
  { selector: 'Property[computed=true]', message: 'Espruino has no computed keys in object literals.' },
  { selector: 'MethodDefinition[computed=true]', message: 'Espruino has no computed keys.' },
  { selector: 'PrivateIdentifier', message: 'Espruino has no private #fields.' },
  { selector: 'ForStatement > VariableDeclaration[kind="let"]', message: 'Espruino shares one binding across for(let ...) iterations; declare the counter outside or use var.' },
  { selector: 'ClassDeclaration[superClass.name="Error"]', message: 'Espruino cannot extend Error.' },
  { selector: 'ClassExpression[superClass.name="Error"]', message: 'Espruino cannot extend Error.' },
  { selector: 'TaggedTemplateExpression', message: 'Keep to plain template literals on Espruino.' },
  { selector: 'TSEnumDeclaration', message: 'Use const numbers, not enums: they cost bytes and vars on the board.' },
];

const espruinoGlobals = ['Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Buffer', 'TextEncoder', 'TextDecoder',
  'Proxy', 'Reflect', 'BigInt', 'queueMicrotask', 'setImmediate', 'structuredClone', 'global', 'window', 'document']
  .map((name) => ({ name, message: `Espruino has no ${name}.` }));

const espruinoProps = [
  ['Array', 'from'], ['ArrayBuffer', 'isView'], ['Number', 'isInteger'], ['Math', 'trunc'], ['Math', 'imul'],
  ['Object', 'freeze'], ['Object', 'fromEntries'], ['Array', 'of'],
].map(([object, property]) => ({ object, property, message: `Espruino has no ${object}.${property}.` }))
  .concat([{ property: 'finally', message: 'Espruino has no Promise.finally.' },
    { property: 'flatMap', message: 'Espruino has no Array.flatMap.' },
    { property: 'padEnd', message: 'Espruino has no String.padEnd.' }]);

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', __filename: 'readonly', require: 'readonly', module: 'writable' } },
  },
  {
    files: ['firmware/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...espruinoSyntax],
      'no-restricted-globals': ['error', ...espruinoGlobals],
      'no-restricted-properties': ['error', ...espruinoProps],
      // Espruino's lexer ends a regex at any unescaped '/', even inside [...], so that escape is needed.
      'no-useless-escape': 'off',
      // Espruino does not hoist function declarations.
      '@typescript-eslint/no-use-before-define': ['error', { functions: true, classes: true, variables: false, allowNamedExports: false }],
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'net', 'tls', 'events', 'buffer', 'path', 'os', 'util'], message: 'Node modules do not exist on the board; take sockets as an injected parameter.' }] }],
    },
  },
);
