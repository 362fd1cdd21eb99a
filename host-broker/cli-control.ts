// What the commands that change a running hub through its control API share
// (`routes ...`, cli-routes.ts; `bridges ...`, cli-bridges.ts): the --control
// and --token options, the call that says how to start a hub that is not there,
// reading one JSON object from an argument, and printing a list.
import * as fs from 'fs';
import * as path from 'path';
import { Option } from 'commander';
import { ControlApiError, ControlClient, TOKEN_ENV } from './control/http-client';
import { DEFAULT_CONTROL_URL } from './defaults';

export const controlOption = () => new Option('--control <url>', 'control API of the running hub').default(DEFAULT_CONTROL_URL).env('HOST_BROKER_CONTROL');
export const tokenOption = () => new Option('--token <token>', 'the hub\'s control token (printed at its first start)').env(TOKEN_ENV);

/** Runs one call against the hub (its control token from --token or HOST_BROKER_TOKEN); a hub that is not there gets a message saying how to start one. */
export async function callHub<T>(o: { control: string; token?: string }, fn: (api: ControlClient) => Promise<T>): Promise<T> {
  const api = new ControlClient(o.control, { token: o.token });
  try {
    return await fn(api);
  } catch (err: any) {
    if (err instanceof ControlApiError) throw err;
    throw new Error(`cannot reach the control API at ${o.control} (${err.code ?? err.message}); start the hub with --control-port, or give --control`, { cause: err });
  }
}

/** A JSON object from inline JSON (starting with "{"), "-" (stdin) or a file; `what` names it in errors. */
export function readJsonObject(arg: string, what: string, cwd = process.cwd()): Record<string, unknown> {
  let text: string;
  let where: string;
  if (arg.trimStart().startsWith('{')) { text = arg; where = 'inline JSON'; }
  else if (arg === '-') { text = fs.readFileSync(0, 'utf8'); where = 'stdin'; }
  else {
    where = arg;
    try { text = fs.readFileSync(path.resolve(cwd, arg), 'utf8'); } catch (err: any) {
      throw new Error(`${arg}: cannot read the ${what} file (${err.code ?? err.message})`, { cause: err });
    }
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch (err: any) { throw new Error(`${where}: not valid JSON (${err.message})`, { cause: err }); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: expected one ${what} as a JSON object`);
  return v as Record<string, unknown>;
}

/** A list as JSON, one line per item, or `none` when empty. */
export function printList<T>(list: T[], json: boolean, none: string, line: (x: T) => string): void {
  if (json) console.log(JSON.stringify(list, null, 2));
  else if (list.length === 0) console.log(none);
  else for (const x of list) console.log(line(x));
}
