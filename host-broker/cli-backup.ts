// `host-broker backup` and `host-broker restore`: see backup.ts.
import * as path from 'path';
import { Command, Option } from 'commander';
import { type BackupCounts, createBackup, restoreBackup } from './backup';
import { loadConfigFile } from './config';
import { DEFAULT_DATA_DIR } from './start-hub';

/** The data dir a command means: --data-dir, else the config file's dataDir, else the default. */
export function dataDirFrom(o: { dataDir?: string; config?: string }, cwd = process.cwd()): string {
  if (o.dataDir) return path.resolve(cwd, o.dataDir);
  if (o.config) {
    const cfg = loadConfigFile(path.resolve(cwd, o.config));
    if (cfg.dataDir) return cfg.dataDir;
  }
  return path.resolve(cwd, DEFAULT_DATA_DIR);
}

function describeCounts(c: BackupCounts): string {
  return `${c.devices} devices, ${c.sessions} persistent sessions (${c.subscriptions} subscriptions, ${c.queuedMessages} queued messages), `
    + `${c.retainedMessages} retained messages, ${c.routeQueue} messages in route queues (${c.deadLetters} dead letters), ${c.ca ? 'the hub CA' : 'no hub CA'}`;
}

const dataDirOptions = (cmd: Command) => cmd
  .addOption(new Option('--data-dir <dir>', `the hub's data directory (default: the config's dataDir, else ./${DEFAULT_DATA_DIR})`))
  .option('--config <file>', 'the hub\'s config file, for its dataDir')
  .option('--json', 'print the result as JSON');

export function addBackupCommands(program: Command): void {
  dataDirOptions(program.command('backup')
    .description('copy the store, device registry, route queues and hub CA of a data dir into one .tar.gz, consistently, while the hub runs (SQLite online backup); the file holds secrets and is written 0600')
    .requiredOption('--out <file>', 'the backup file to write, e.g. hub-$(date +%F).tar.gz'))
    .action(async (o: { out: string; dataDir?: string; config?: string; json?: boolean }) => {
      const dataDir = dataDirFrom(o);
      const out = path.resolve(o.out);
      const m = await createBackup(dataDir, out);
      if (o.json) console.log(JSON.stringify({ file: out, ...m }));
      else console.log(`backed up ${dataDir} to ${out}: ${describeCounts(m.counts)}`);
    });

  dataDirOptions(program.command('restore <file>')
    .description('restore a backup into a data dir; refuses while a hub runs on it, and refuses a data dir that holds hub data unless --force')
    .option('--force', 'move the hub files already in the data dir aside (into <data-dir>/pre-restore-<time>/) and restore'))
    .action(async (file: string, o: { dataDir?: string; config?: string; json?: boolean; force?: boolean }) => {
      const r = await restoreBackup(file, dataDirFrom(o), { force: !!o.force });
      if (o.json) { console.log(JSON.stringify(r)); return; }
      console.log(`restored ${path.resolve(file)} (taken ${r.manifest.createdAt} from ${r.manifest.dataDir}) into ${r.dataDir}: ${describeCounts(r.manifest.counts)}`);
      if (r.movedAside) console.log(`the files that were there are in ${r.movedAside}`);
    });
}
