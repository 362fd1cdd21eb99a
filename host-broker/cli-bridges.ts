// `host-broker bridges ...`: list, add, remove and inspect the bridges of a
// running hub through its control API (bridges run in the hub process, so
// there is no offline mode; the config file's `bridges` is what a hub starts with).
import { Command } from 'commander';
import type { BridgeStatus } from './bridges/types';
import { callHub, controlOption, printList, readJsonObject, tokenOption } from './cli-control';
import { DEFAULT_CONTROL_URL } from './defaults';

const ago = (iso?: string) => (iso ? `${Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))} s ago` : '');

/** One line: name, state, url, queue, counters, round trip, last error. */
export function describeBridge(b: BridgeStatus): string {
  const s = b.stats;
  const since = b.state === 'connected' ? ` since ${b.connectedSince}` : b.state === 'waiting' && b.nextAttemptAt ? ` (next attempt ${b.nextAttemptAt})` : '';
  const rtt = b.rttMs !== undefined ? `\trtt ${b.rttMs} ms` : '';
  const err = s.lastError ? `\tlast error ${ago(s.lastErrorAt)}: ${s.lastError}` : '';
  return `${b.name}\t${b.state}${since}\t${b.url}\tqueued ${b.queued}\tsent ${s.sent}\tacknowledged ${s.acknowledged}${rtt}${err}`;
}

/** Several lines for `status`: everything an operator asks when the cloud has gone quiet. */
export function describeBridgeStatus(b: BridgeStatus): string {
  const s = b.stats;
  const lines = [
    `bridge ${b.name}: ${b.state}`,
    `  upstream        ${b.url} as ${b.clientId}${b.config.cleanSession ? ' (clean session)' : ' (persistent session)'}`,
    b.state === 'connected' ? `  connected since ${b.connectedSince} (${ago(b.connectedSince)})` : b.nextAttemptAt ? `  next attempt    ${b.nextAttemptAt}` : '',
    `  queued          ${b.queued} messages (${b.queuedBytes} bytes of ${b.config.queue.maxBytes}), ${b.inflight} in flight`,
    `  sent            ${s.sent} (+${s.resent} resent after reconnects), acknowledged ${s.acknowledged}`,
    `  received        ${s.received} from upstream${s.echoesDropped ? `, ${s.echoesDropped} echoes of our own dropped` : ''}`,
    `  dropped         ${s.droppedOverflow} (queue full), ${s.droppedQos0} QoS 0 (link down: best effort)`,
    `  round trip      ${b.rttMs !== undefined ? `${b.rttMs} ms` : 'no sample yet'}`,
    `  connections     ${s.connects} made, ${s.failures} failed or lost`,
    s.lastError ? `  last error      ${s.lastErrorAt} (${ago(s.lastErrorAt)}): ${s.lastError}` : '',
    `  mappings        ${b.config.mappings.map((m) => `${m.direction} ${m.filter}${m.localPrefix || m.remotePrefix ? ` [${JSON.stringify(m.localPrefix)} -> ${JSON.stringify(m.remotePrefix)}]` : ''} qos ${m.qos}`).join('; ')}`,
  ];
  return lines.filter(Boolean).join('\n');
}

export function addBridgesCommands(program: Command): void {
  const bridges = program.command('bridges')
    .description(`manage the bridges to upstream brokers of a running hub through its control API (default ${DEFAULT_CONTROL_URL}). Bridges added here last until the hub stops; keep them in the --config file to have them at every start`);

  bridges.command('list')
    .description('every bridge: name, state, upstream URL, queued, sent and acknowledged messages, round-trip time, last error')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--json', 'print the full status (stats, config with the password as ***) as JSON')
    .action(async (o: any) => {
      printList(await callHub(o, (api) => api.listBridges()), !!o.json, 'no bridges', describeBridge);
    });

  bridges.command('status [name]')
    .description('the status of one bridge (or of all): connected since, queued, sent, acknowledged, round-trip time, last error')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--json', 'print it as JSON')
    .action(async (name: string | undefined, o: any) => {
      const list = await callHub(o, async (api) => (name === undefined ? api.listBridges() : [await api.getBridge(name)]));
      if (o.json) console.log(JSON.stringify(name === undefined ? list : list[0], null, 2));
      else if (list.length === 0) console.log('no bridges');
      else console.log(list.map(describeBridgeStatus).join('\n\n'));
    });

  bridges.command('add <config>')
    .description('add and start a bridge; <config> is a JSON file, "-" for stdin, or inline JSON starting with "{" (format: host-broker/bridges/README.md)')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--json', 'print the new bridge\'s status as JSON')
    .action(async (config: string, o: any) => {
      const cfg = readJsonObject(config, 'bridge');
      const b = await callHub(o, (api) => api.addBridge(cfg));
      console.log(o.json ? JSON.stringify(b) : `added ${describeBridge(b)}`);
    });

  bridges.command('remove <name>')
    .description('stop a bridge (DISCONNECT); the messages still queued for it are discarded unless --keep-queue')
    .addOption(controlOption()).addOption(tokenOption())
    .option('--keep-queue', 'keep its queue for a bridge of the same name added later')
    .action(async (name: string, o: any) => {
      const r = await callHub(o, (api) => api.removeBridge(name, { keepQueue: !!o.keepQueue }));
      console.log(`removed ${name}; ${r.keptQueue ? 'its queue is kept' : `${r.discarded} queued messages discarded`}`);
    });
}
