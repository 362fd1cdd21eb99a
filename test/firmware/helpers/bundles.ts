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

/**
 * What the codec's parser sees as Espruino's process.memory(): vars free and bytes
 * per var. Tests change `free` to model a board that is short of memory.
 */
export const codecMemory = { free: 1e9, blocksize: 16, calls: 0 };

/**
 * The minified codec (dist/test/codec.js): plain CommonJS, so Node can require it.
 * Its parser asks Espruino's process.memory(false) before keeping a big packet;
 * Node's process gets a stand-in that reports codecMemory.
 */
export function loadCodec(): any {
  const p = process as any;
  p.memory ??= (gc?: boolean) => {
    codecMemory.calls++;
    return { free: codecMemory.free, usage: 0, total: codecMemory.free, blocksize: codecMemory.blocksize, gc };
  };
  return require(bundlePath('test', 'codec'));
}
