// Builds the firmware once per board profile (boards/*.json) into dist/<board>/.
// Board features become compile-time constants (FEATURE_QOS2, ...) that terser
// folds, so a profile can compile out what it does not need.
import fs from 'node:fs';
import path from 'node:path';
import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';
import { nodeResolve } from '@rollup/plugin-node-resolve';

const boards = fs.readdirSync('boards').filter((f) => f.endsWith('.json')).map((f) =>
  JSON.parse(fs.readFileSync(path.join('boards', f), 'utf8')));

// Every construct terser may emit must stay inside what Espruino runs
// (../shared/reference/espruino-facts.md); tools/check-bundles.ts verifies the output.
// reduce_funcs: false keeps terser from pasting a single-use function into its caller
// as an immediately-called function expression: Espruino would then build that
// function (copying its code text) on every call, e.g. the whole parser per socket chunk.
function terserFor(defs) {
  return terser({
    ecma: 2015,
    module: false,
    toplevel: true,
    compress: { global_defs: defs, passes: 2, arrows: false, unsafe_arrows: false, reduce_funcs: false },
    mangle: { toplevel: true },
    format: { comments: false, ascii_only: false },
  });
}

function defsFor(board) {
  const f = board.features;
  return {
    FEATURE_QOS2: !!f.qos2,
    FEATURE_WILL: !!f.will,
    FEATURE_SESSION: !!f.session,
    FEATURE_RECONNECT: !!f.reconnect,
    FEATURE_TLS: !!f.tls,
    FEATURE_CONNACK_TEXT: !!f.connackText,
    BOARD_UNICODE: !!board.unicode,
    BOARD_NAME: board.name,
    BOARD_VARS: board.vars,
    BOARD_VAR_BYTES: board.varBytes,
    BOARD_MAX_PACKET: board.client.maxPacket,
    BOARD_MAX_INFLIGHT: board.client.maxInflight,
    BOARD_OUTBOX_COUNT: board.client.outboxCount,
    BOARD_OUTBOX_BYTES: board.client.outboxBytes,
    BOARD_MEMORY_MARGIN: board.client.memoryMargin,
  };
}

function ts() {
  return typescript({ tsconfig: 'firmware/tsconfig.json', include: ['firmware/**/*.ts'], noEmitOnError: true });
}

// Espruino modules are CommonJS-shaped: `exports.x = ...`, loaded with Modules.addCached.
const cjs = (file) => ({ file, format: 'cjs', exports: 'named', esModule: false, strict: false, generatedCode: { preset: 'es2015', symbols: false }, interop: 'default' });

const configs = [];
for (const board of boards) {
  const defs = defsFor(board);
  const entries = [
    ['firmware/index.ts', `dist/${board.name}/mqtt-client.js`],
    ['firmware/apps/telemetry/main.ts', `dist/${board.name}/telemetry.js`],
  ];
  for (const [input, file] of entries) {
    if (!fs.existsSync(input)) continue;
    configs.push({
      input,
      external: ['mqtt-client', 'net', 'tls', 'Storage', 'Wifi'],
      plugins: [ts(), terserFor(defs)],
      output: cjs(file),
    });
  }
}

// The codec alone, minified the same way, so tests check it byte for byte
// against mqtt-packet through the shipped minifier's output.
if (fs.existsSync('firmware/codec/index.ts')) {
  configs.push({
    input: 'firmware/codec/index.ts',
    plugins: [ts(), terserFor(defsFor(boards.find((b) => b.name === 'linux')))],
    output: cjs('dist/test/codec.js'),
  });
}

// The hub console (host-broker/console/web): one script for browsers, its CSS
// (ours after uPlot's) and the page, into dist/console/, served by the hub.
const CONSOLE = 'host-broker/console/web';
if (fs.existsSync(`${CONSOLE}/main.ts`)) {
  const consoleFiles = {
    name: 'console-files',
    buildStart() {
      for (const f of ['index.html', 'style.css', 'node_modules/uplot/dist/uPlot.min.css']) this.addWatchFile(f.startsWith('node_modules') ? f : `${CONSOLE}/${f}`);
    },
    generateBundle() {
      const css = fs.readFileSync('node_modules/uplot/dist/uPlot.min.css', 'utf8') + '\n' + fs.readFileSync(`${CONSOLE}/style.css`, 'utf8');
      this.emitFile({ type: 'asset', fileName: 'app.css', source: css });
      this.emitFile({ type: 'asset', fileName: 'index.html', source: fs.readFileSync(`${CONSOLE}/index.html`, 'utf8') });
    },
  };
  configs.push({
    input: `${CONSOLE}/main.ts`,
    plugins: [
      nodeResolve({ browser: true }),
      typescript({ tsconfig: `${CONSOLE}/tsconfig.json`, include: [`${CONSOLE}/**/*.ts`, 'firmware/topic.ts'], noEmitOnError: true }),
      terser({ ecma: 2019, format: { comments: false } }),
      consoleFiles,
    ],
    output: { dir: 'dist/console', entryFileNames: 'app.js', format: 'iife', generatedCode: { preset: 'es2015' } },
  });
}

export default configs;
