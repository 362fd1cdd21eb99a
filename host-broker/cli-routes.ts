// `host-broker routes ...`: manage the routes of a running hub through its
// control API (routes live in the hub process, so there is no offline mode).
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ControlApiError, ControlClient, DeadLetterJson, TOKEN_ENV } from './control/http-client';
import type { RouteStatus } from './routes/types';
import { DEFAULT_CONTROL_PORT, DEFAULT_HOST } from './start-hub';

export const DEFAULT_CONTROL_URL = `http://${DEFAULT_HOST}:${DEFAULT_CONTROL_PORT}`;

function limitArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer 1..10000');
  return n;
}

/** The route config from inline JSON (starting with "{"), "-" (stdin) or a file. */
export function readRouteConfig(arg: string, cwd = process.cwd()): Record<string, unknown> {
  let text: string;
  let where: string;
  if (arg.trimStart().startsWith('{')) {
    text = arg;
    where = 'inline JSON';
  } else if (arg === '-') {
    text = fs.readFileSync(0, 'utf8');
    where = 'stdin';
  } else {
    where = arg;
    try {
      text = fs.readFileSync(path.resolve(cwd, arg), 'utf8');
    } catch (err: any) {
      throw new Error(`${arg}: cannot read the route file (${err.code ?? err.message})`, { cause: err });
    }
  }
  let v: unknown;
  try { v = JSON.parse(text); } catch (err: any) { throw new Error(`${where}: not valid JSON (${err.message})`, { cause: err }); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: expected one route as a JSON object`);
  return v as Record<string, unknown>;
}

function describeRoute(r: RouteStatus): string {
  const s = r.stats;
  const err = s.lastError ? `\tlast error ${s.lastErrorAt ?? ''}: ${s.lastError}` : '';
  return `${r.name}\t${r.type}\t${r.filter}\t${r.state}\tqueued ${r.queueDepth}\tdead ${r.deadLetters}\tdelivered ${s.delivered}${err}`;
}

function describeDead(d: DeadLetterJson): string {
  return `${d.id}\t${d.ts}\t${d.topic}\t${d.attempts} attempts\t${d.error}`;
}

/** A list as JSON, one line per item, or `none` when empty. */
function printList<T>(list: T[], json: boolean, none: string, line: (x: T) => string): void {
  if (json) console.log(JSON.stringify(list, null, 2));
  else if (list.length === 0) console.log(none);
  else for (const x of list) console.log(line(x));
}

/** Runs one call against the hub; a hub that is not there gets a message saying how to start one. */
async function call<T>(target: string | { control: string; token?: string }, fn: (api: ControlClient) => Promise<T>): Promise<T> {
  // A bare URL: the token comes from HOST_BROKER_TOKEN (ControlClient's default).
  const { control: url, token } = typeof target === 'string' ? { control: target, token: undefined } : target;
  const api = new ControlClient(url, { token });
  try {
    return await fn(api);
  } catch (err: any) {
    if (err instanceof ControlApiError) throw err;
    throw new Error(`cannot reach the control API at ${url} (${err.code ?? err.message}); start the hub with --control-port, or give --control`, { cause: err });
  }
}

export function addRoutesCommands(program: Command): void {
  const routes = program.command('routes')
    .description(`manage the routes of a running hub through its control API (default ${DEFAULT_CONTROL_URL}, as \`start --control-port\` with no port). Routes added here last until the hub stops; keep them in the --config file to have them at every start`);
  const controlOpt = () => new Option('--control <url>', 'control API of the running hub').default(DEFAULT_CONTROL_URL).env('HOST_BROKER_CONTROL');
  const tokenOpt = () => new Option('--token <token>', 'the hub\'s control token (printed at its first start)').env(TOKEN_ENV);

  routes.command('list')
    .description('every route: name, type, filter, state, queued and dead-lettered messages, delivered count, last error')
    .addOption(controlOpt()).addOption(tokenOpt())
    .option('--json', 'print the full status (stats, config with secrets as ***) as JSON')
    .action(async (o: any) => {
      printList(await call(o, (api) => api.listRoutes()), !!o.json, 'no routes', describeRoute);
    });

  routes.command('add <config>')
    .description('add and start a route; <config> is a JSON file, "-" for stdin, or inline JSON starting with "{" (format: host-broker/routes/README.md)')
    .addOption(controlOpt()).addOption(tokenOpt())
    .option('--json', 'print the new route\'s status as JSON')
    .action(async (config: string, o: any) => {
      const cfg = readRouteConfig(config);
      const r = await call(o, (api) => api.addRoute(cfg));
      console.log(o.json ? JSON.stringify(r) : `added ${describeRoute(r)}`);
    });

  routes.command('remove <name>')
    .description('stop a route; its queued and dead-lettered messages are discarded unless --keep-queue')
    .addOption(controlOpt()).addOption(tokenOpt())
    .option('--keep-queue', 'keep its messages for a route of the same name added later')
    .action(async (name: string, o: any) => {
      const r = await call(o, (api) => api.removeRoute(name, { keepQueue: !!o.keepQueue }));
      console.log(`removed ${name}; ${r.keptQueue ? 'its queue is kept' : `${r.discarded} queued or dead-lettered messages discarded`}`);
    });

  routes.command('dead-letters <name>')
    .description('messages the target kept refusing: id, time accepted, topic, attempts, last error')
    .addOption(controlOpt()).addOption(tokenOpt())
    .addOption(new Option('--limit <n>', 'at most this many (default 100)').argParser(limitArg))
    .option('--json', 'print them as JSON (with payload and payloadBase64)')
    .action(async (name: string, o: any) => {
      printList(await call(o, (api) => api.routeDeadLetters(name, { limit: o.limit })), !!o.json, 'no dead letters', describeDead);
    });

  routes.command('requeue <name>')
    .description('put a route\'s dead letters back at the end of its queue (once the target is fixed)')
    .addOption(controlOpt()).addOption(tokenOpt())
    .action(async (name: string, o: any) => {
      const n = await call(o, (api) => api.requeueDeadLetters(name));
      console.log(`requeued ${n} dead letters of ${name}`);
    });
}
