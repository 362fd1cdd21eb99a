// One load job against one peer, with the broker's own CPU and memory sampled over
// the measured window; a peer that died is restarted and the job run once more.
import type { LoadGenerator, LoadJob, LoadResult } from '../load/client';
import { cpuMeter } from '../lib/proc';
import type { Peer } from './peers';

export interface PeerRun extends LoadResult {
  peer: string;
  /** Broker CPU over the measured window, % of one core. */
  brokerCpuPct: number;
  /** Broker RSS when the measured window started / ended (MB). */
  rssStartMb: number;
  rssEndMb: number;
  /** Restarts of the peer this run needed, with why. */
  restarts: string[];
}

export async function runOnPeer(gen: LoadGenerator, peer: Peer, job: Omit<LoadJob, 'port'>, timeoutMs = 180000): Promise<PeerRun> {
  const restarts: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const before = peer.deaths.length;
    await peer.ensure();
    if (peer.deaths.length > before) restarts.push(`${peer.name} had died before the run (${peer.deaths.at(-1)}); restarted`);
    const meter = cpuMeter(peer.pid);
    let brokerCpuPct = NaN;
    let rssStartMb = NaN;
    let rssEndMb = NaN;
    let result: LoadResult | null = null;
    let err = '';
    try {
      result = await gen.run({ ...job, port: peer.port, tag: `${job.tag}a${attempt}` }, {
        timeoutMs,
        onMark: (m) => {
          if (m === 'start') { meter.start(); rssStartMb = peer.rssMb(); } else { brokerCpuPct = meter.stop(); rssEndMb = peer.rssMb(); }
        },
      });
      if (result.error) err = result.error;
    } catch (e) {
      err = (e as Error).message.split('\n')[0];
    }
    // Give a dying peer a moment to exit, so a crash is told apart from a slow run.
    await new Promise((r) => setTimeout(r, 100));
    if (!peer.alive() && attempt < 1) {
      restarts.push(`${peer.name} died during ${job.tag} (${err || 'no error seen by the generator'}); restarted and re-ran`);
      await peer.ensure();
      continue;
    }
    if (!result) throw new Error(`${peer.name} ${job.tag}: ${err}`);
    return { ...result, error: err || undefined, peer: peer.name, brokerCpuPct, rssStartMb, rssEndMb, restarts };
  }
}
