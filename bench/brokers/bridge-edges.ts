// The bridge bench's brokers: one upstream Mosquitto (the "cloud"), and edge
// gateways that bridge the load's topics to it at QoS 1, 20 in flight: ours in
// memory, ours on SQLite (the bridge queue written in the message's commit), and
// a Mosquitto with a `connection` bridge doing the same.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startMosquitto } from '../../test/helpers/mosquitto';
import { BRIDGED_TOPICS } from './bridge-topics';
import { MOSQUITTO_CONF, MosquittoPeer, NodePeer, type Peer, type PeerName } from './peers';

export const EDGE_PEERS: PeerName[] = ['ours-bridge', 'ours-sqlite-bridge', 'mosquitto-bridge'];

/** A Mosquitto bridge as its documentation sets one up: clean session, QoS 1 out, no notifications. */
export function mosquittoBridgeConf(upstreamPort: number): string {
  return [
    MOSQUITTO_CONF,
    'connection bench-edge',
    `address 127.0.0.1:${upstreamPort}`,
    ...BRIDGED_TOPICS.map((t) => `topic ${t} out 1`),
    'cleansession true',
    'notifications false',
    'bridge_protocol_version mqttv311',
    'restart_timeout 1',
  ].join('\n');
}

/** The upstream: a plain bench Mosquitto. */
export async function startUpstream(): Promise<MosquittoPeer> {
  const m = await startMosquitto(MOSQUITTO_CONF);
  if (!m) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  return new MosquittoPeer(m, 'mosquitto');
}

export async function startEdge(name: PeerName, upstreamPort: number): Promise<Peer> {
  if (name === 'mosquitto-bridge') {
    const m = await startMosquitto(mosquittoBridgeConf(upstreamPort));
    if (!m) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
    return new MosquittoPeer(m, name);
  }
  const args = ['--upstream', String(upstreamPort)];
  let cleanup = () => undefined as void;
  if (name === 'ours-sqlite-bridge') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-edge-'));
    args.push('--sqlite', dir);
    cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  } else if (name !== 'ours-bridge') {
    throw new Error(`not an edge peer: ${name}`);
  }
  const p = new NodePeer(name, 'bench/brokers/bridge-edge-process.ts', [], args, cleanup);
  await p.start();
  return p;
}
