// `host-broker routes ...`: manage the routes of a running hub through its
// control API (routes live in the hub process, so there is no offline mode).
import { Command, InvalidArgumentError, Option } from 'commander';
import { callHub, controlOption, printList, readJsonObject, tokenOption } from './cli-control';
import type { DeadLetterJson } from './control/http-client';
import { DEFAULT_CONTROL_URL } from './defaults';
import type { RouteStatus } from './routes/types';

function limitArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected an integer 1..10000');
  return n;
}

function describeRoute(r: RouteStatus): string {
  const s = r.stats;
  const err = s.lastError ? `\tlast error ${s.lastErrorAt ?? ''}: ${s.lastError}` : '';
  return `${r.name}\t${r.type}\t${r.filter}\t${r.state}\tqueued ${r.queueDepth}\tdead ${r.deadLetters}\tdelivered ${s.delivered}${err}`;
}

function describeDead(d: DeadLetterJson): string {
  return `${d.id}\t${d.ts}\t${d.topic}\t${d.attempts} attempts\t${d.error}`;
}

export function addRoutesCommands(program: Command): void {
  const routes = program.command('routes')
    .description(`manage the routes of a running hub through its control API (default ${DEFAULT_CONTROL_URL}, as \`start --control-port\` with no port). Routes added here last until the hub stops; keep them in the --config file to have them at every start`);

  routes.command('list')
    .description('every route: name, type, filter, state, queued and dead-lettered messages, delivered count, last error')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--json', 'print the full status (stats, config with secrets as ***) as JSON')
    .action(async (o: any) => {
      printList(await callHub(o, (api) => api.listRoutes()), !!o.json, 'no routes', describeRoute);
    });

  routes.command('add <config>')
    .description('add and start a route; <config> is a JSON file, "-" for stdin, or inline JSON starting with "{" (format: host-broker/routes/README.md)')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--json', 'print the new route\'s status as JSON')
    .action(async (config: string, o: any) => {
      const cfg = readJsonObject(config, 'route');
      const r = await callHub(o, (api) => api.addRoute(cfg));
      console.log(o.json ? JSON.stringify(r) : `added ${describeRoute(r)}`);
    });

  routes.command('remove <name>')
    .description('stop a route; its queued and dead-lettered messages are discarded unless --keep-queue')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--keep-queue', 'keep its messages for a route of the same name added later')
    .action(async (name: string, o: any) => {
      const r = await callHub(o, (api) => api.removeRoute(name, { keepQueue: !!o.keepQueue }));
      console.log(`removed ${name}; ${r.keptQueue ? 'its queue is kept' : `${r.discarded} queued or dead-lettered messages discarded`}`);
    });

  routes.command('dead-letters <name>')
    .description('messages the target kept refusing: id, time accepted, topic, attempts, last error')
    .addOption(controlOption()).addOption(tokenOption())
    .addOption(new Option('--limit <n>', 'at most this many (default 100)').argParser(limitArg))
    .option('--json', 'print them as JSON (with payload and payloadBase64)')
    .action(async (name: string, o: any) => {
      printList(await callHub(o, (api) => api.routeDeadLetters(name, { limit: o.limit })), !!o.json, 'no dead letters', describeDead);
    });

  routes.command('requeue <name>')
    .description('put a route\'s dead letters back at the end of its queue (once the target is fixed)')
    .addOption(controlOption()).addOption(tokenOption())
    .action(async (name: string, o: any) => {
      const n = await callHub(o, (api) => api.requeueDeadLetters(name));
      console.log(`requeued ${n} dead letters of ${name}`);
    });
}
