// The board image: what `npm run flash` writes to a board, and what the tests
// and the HIL runner boot in the real interpreter. Two Storage files, run from
// flash as a board runs them:
//   - "mqtt-client": the client module; require("mqtt-client") finds it in Storage
//     and its functions keep their code in flash (Espruino src/jsparse.c);
//   - ".bootcde": the app's settings (var CONFIG=... or var HIL=...) and the app,
//     run at every boot, from flash too.
// The image itself is console commands: each file written in pieces with
// require("Storage").write(name, piece, offset, size), then load(".bootcde"),
// which resets the interpreter and runs the boot code as a power-up would.
import * as acorn from 'acorn';
import * as zlib from 'zlib';
import { BoardProfile } from '../boards/profiles';

export interface StorageFile { name: string; data: string }

/** Characters per Storage.write piece: a console line the board takes comfortably. */
export const PIECE = 1024;

/** Storage keeps each file with a header and rounds it up (Espruino jsflash.c). */
const FILE_OVERHEAD = 32;

/**
 * A JavaScript literal of `value` (JSON) in ASCII only, as the board reads it: on a
 * unicode interpreter non-ASCII characters are \uXXXX escapes; on an ESP build (raw
 * byte strings) each character becomes its UTF-8 bytes as \xNN escapes, so the board
 * holds the UTF-8 text a network name or password really is.
 */
export function asciiLiteral(value: unknown, unicode: boolean): string {
  const json = JSON.stringify(value);
  if (unicode) return json.replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return json.replace(/[\u007f-\uffff]+/g, (s) => [...Buffer.from(s, 'utf8')].map((b) => '\\x' + b.toString(16).padStart(2, '0')).join(''));
}

/** One console command of the image: a Storage.write of `file`'s characters [from, to). */
export interface WriteCommand { file: string; from: number; to: number; text: string }

/** What the board runs once the files are written: reset the interpreter and run the boot code as a power-up would. */
export const BOOT_COMMAND = 'load(".bootcde");';

/**
 * The console commands that write `files` to Storage, one line each (the files in
 * order, each in pieces of `piece` characters), and the command that then boots
 * .bootcde. Every file must be ASCII.
 */
export function imageCommands(files: StorageFile[], piece = PIECE): { writes: WriteCommand[]; boot: string } {
  const writes: WriteCommand[] = [];
  for (const f of files) {
    const bad = /[\u007f-\uffff]/.exec(f.data);
    if (bad) throw new Error(`image: file "${f.name}" holds ${JSON.stringify(bad[0])} at ${bad.index}: expected ASCII (bundles are ASCII; settings go through asciiLiteral)`);
    const w = (from: number, extra: string) => {
      const to = Math.min(from + piece, f.data.length);
      writes.push({ file: f.name, from, to, text: `require("Storage").write(${JSON.stringify(f.name)},${JSON.stringify(f.data.slice(from, to))}${extra});` });
    };
    if (f.data.length <= piece) w(0, '');
    else for (let i = 0; i < f.data.length; i += piece) w(i, i ? `,${i}` : `,0,${f.data.length}`);
  }
  return { writes, boot: BOOT_COMMAND };
}

/** The image as one script: the console commands that write `files` to Storage and then boot .bootcde. */
export function imageScript(files: StorageFile[], piece = PIECE): string {
  return storageWrites(files, piece) + BOOT_COMMAND + '\n';
}

/** The image's Storage writes alone, as one script (a board then boots by power-up, or by BOOT_COMMAND). */
export function storageWrites(files: StorageFile[], piece = PIECE): string {
  return imageCommands(files, piece).writes.map((w) => w.text + '\n').join('');
}

/** What the board must hold for each file: its length and CRC-32 (the checksum Espruino's E.CRC32 computes over a string's bytes). */
export interface FileDigest { name: string; length: number; crc32: number }

export function fileDigest(f: StorageFile): FileDigest {
  return { name: f.name, length: f.data.length, crc32: zlib.crc32(Buffer.from(f.data, 'latin1')) };
}

/** A CRC-32 as people compare them: 0x and 8 hex digits. */
export const crcText = (crc32: number) => '0x' + (crc32 >>> 0).toString(16).padStart(8, '0');

/** Storage bytes the files take on the board. */
export function storageBytes(files: StorageFile[]): number {
  return files.reduce((n, f) => n + f.data.length + FILE_OVERHEAD, 0);
}

/**
 * Vars the code of a script or module keeps while it runs from flash, by Espruino's
 * storage model (measured on 2v29): each function that lives on (top level: a
 * module's functions, or the app's) costs 5 vars (the function, its code and scope
 * references, the flash code string, its name) plus 1 per parameter; each other
 * top-level binding 1 var plus its value; a module adds its scope, exports and module
 * objects (about 15). Functions created at run time and state are not counted.
 */
export function codeVars(source: string, module: boolean): number {
  const ast = acorn.parse(source, { ecmaVersion: 2020, sourceType: 'script' }) as any;
  let vars = module ? 15 : 0;
  const fn = (n: any) => 5 + n.params.length;
  const value = (n: any): number => {
    if (!n) return 0;
    if (n.type === 'ArrowFunctionExpression' || n.type === 'FunctionExpression') return fn(n) - 1;
    if (n.type === 'ObjectExpression') return 1 + n.properties.reduce((s: number, p: any) => s + 1 + value(p.value), 0);
    if (n.type === 'ArrayExpression') return 1 + n.elements.length;
    if (n.type === 'Literal' && typeof n.value === 'string') return 1 + Math.ceil(n.value.length / 8);
    return 0;
  };
  for (const st of ast.body) {
    if (st.type === 'FunctionDeclaration') vars += fn(st);
    else if (st.type === 'VariableDeclaration') for (const d of st.declarations) vars += 1 + value(d.init);
    else if (st.type === 'ExpressionStatement' && st.expression.type === 'AssignmentExpression') vars += 1 + value(st.expression.right);
  }
  return vars;
}

export interface ImageFit {
  storage: { need: number; have: number };
  ram: { code: number; runtime: number; margin: number; have: number };
  /** Why it does not fit, or '' when it does. */
  problem: string;
}

/** Vars a connected client and app hold beyond their code (socket, timers, queues, a reading): measured on 2v29, rounded up. */
export const STATE_VARS = 250;
/** The interpreter's own use with nothing loaded (espruino-facts.md). */
export const EMPTY_RUNTIME_VARS = 60;

/** Whether an image fits the board: Storage space, and RAM for code, state and the client's inbound margin. */
export function imageFit(files: StorageFile[], profile: BoardProfile): ImageFit {
  const code = files.reduce((n, f) => n + codeVars(f.data, !f.name.startsWith('.')), 0);
  const storage = { need: storageBytes(files), have: profile.storageBytes };
  const ram = { code, runtime: EMPTY_RUNTIME_VARS + STATE_VARS, margin: profile.client.memoryMargin, have: profile.vars };
  const problems: string[] = [];
  if (storage.need > storage.have) problems.push(`Storage: the image takes ${storage.need} bytes, the ${profile.name} profile has ${storage.have}`);
  const need = ram.code + ram.runtime + ram.margin;
  if (need > ram.have) problems.push(`RAM: about ${ram.code} vars of code + ${ram.runtime} for the runtime and state + ${ram.margin} of inbound margin = ${need} vars, the ${profile.name} has ${ram.have}`);
  return { storage, ram, problem: problems.join('; ') };
}
