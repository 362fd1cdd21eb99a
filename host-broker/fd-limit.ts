// The open-file limit the hub runs under (Linux: /proc/self/limits), to warn at
// start when limits.maxConnections cannot be reached: each connection is a file
// descriptor, and past the limit accept() fails with EMFILE.
import * as fs from 'fs';

/** Descriptors the hub needs beside its connections (databases with WAL and SHM, listeners, route targets, stdio). */
export const FD_RESERVE = 256;

/** The soft "Max open files" limit, or undefined where /proc does not say (not Linux). */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try { text = fs.readFileSync(limitsFile, 'utf8'); } catch { return undefined; }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** A warning when `maxConnections` does not fit under the limit, else undefined. */
export function fdLimitWarning(maxConnections: number, limit = openFileLimit()): string | undefined {
  if (limit === undefined || limit >= maxConnections + FD_RESERVE) return undefined;
  return `limits.maxConnections is ${maxConnections} but this process may open only ${limit} files (each connection is one): `
    + `raise it to ${maxConnections + FD_RESERVE} (LimitNOFILE= in the systemd unit, which \`host-broker service install\` sets; ulimit -n in a shell) or lower limits.maxConnections`;
}
