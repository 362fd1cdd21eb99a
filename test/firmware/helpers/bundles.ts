// Loads the minified bundles from dist/ (built by `npm run build`), so tests
// exercise what ships, not only the TypeScript sources.
import * as fs from 'fs';
import * as path from 'path';

export const DIST = path.join(__dirname, '..', '..', '..', 'dist');

export function bundlePath(board: string, name = 'mqtt-client'): string {
  const file = path.join(DIST, board, name + '.js');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return file;
}

export function bundleSource(board: string, name = 'mqtt-client'): string {
  return fs.readFileSync(bundlePath(board, name), 'utf8');
}

/** The minified codec (dist/test/codec.js): plain CommonJS, so Node can require it. */
export function loadCodec(): any {
  return require(bundlePath('test', 'codec'));
}
