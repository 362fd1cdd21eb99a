// `host-broker service install|uninstall`: see service.ts.
import * as path from 'path';
import { Command } from 'commander';
import { DEFAULT_SERVICE_NAME, defaultServiceOptions, installService, renderUnit, serviceConfig, type ServiceOptions, uninstallService } from './service';

interface ServiceFlags { name: string; user?: string; config?: string; dataDir?: string; node?: string; root?: string; print?: boolean; enable?: boolean }

function optionsFrom(f: ServiceFlags): ServiceOptions {
  const o = defaultServiceOptions(f.name);
  if (f.user) o.user = f.user;
  if (f.config) o.configFile = path.resolve(f.config);
  if (f.dataDir) o.dataDir = path.resolve(f.dataDir);
  if (f.node) o.node = path.resolve(f.node);
  return o;
}

export function addServiceCommands(program: Command): void {
  const service = program.command('service').description('run the hub as a systemd service (Raspberry Pi OS, Debian): see docs/raspberry-pi.md');
  const common = (cmd: Command) => cmd
    .option('--name <name>', 'unit name, system user, /etc/<name> and /var/lib/<name>', DEFAULT_SERVICE_NAME)
    .option('--root <dir>', 'write under this directory instead of / and run no systemctl (packaging, tests)');

  common(service.command('install')
    .description('write a systemd unit (restart policy, sandbox, LimitNOFILE from limits.maxConnections) running as a dedicated system user, with its data in /var/lib/<name> and config in /etc/<name>/hub.json (a starter config is written if there is none); create the user, enable and start it'))
    .option('--user <user>', 'the system user it runs as (default: the name)')
    .option('--config <file>', 'config file the service reads (default /etc/<name>/hub.json)')
    .option('--data-dir <dir>', 'data directory (default /var/lib/<name>)')
    .option('--node <path>', `the node binary the unit runs (default: this one, ${process.execPath})`)
    .option('--print', 'print the unit instead of installing anything')
    .option('--no-enable', 'write the files and reload systemd, but do not enable or start the service')
    .action((f: ServiceFlags) => {
      const o = optionsFrom(f);
      if (f.print) {
        process.stdout.write(renderUnit(o, serviceConfig(o, path.resolve(f.root ?? '/')).cfg));
        return;
      }
      const r = installService(o, { root: f.root, enable: f.enable });
      for (const file of r.files) console.log(`wrote ${file}`);
      if (r.configCreated) console.log(`(a starter config: MQTT on 0.0.0.0:1883, control API and /metrics on 127.0.0.1:8081; edit it, then systemctl restart ${o.name})`);
      for (const c of r.commands) console.log(`ran ${c}`);
      for (const c of r.skipped) console.log(`not run (--root): ${c}`);
      if (!f.root) {
        console.log(`add devices as the service's user: sudo -u ${o.user} ${process.execPath} ${o.bin} devices add <id> --data-dir ${o.dataDir} ...`);
        console.log(`logs: journalctl -u ${o.name} -f`);
      }
    });

  common(service.command('uninstall')
    .description('stop and disable the service and remove its unit; the config, the data dir and the user are kept'))
    .action((f: ServiceFlags) => {
      const o = optionsFrom(f);
      const r = uninstallService(o, { root: f.root });
      for (const c of r.commands) console.log(`ran ${c}`);
      for (const file of r.removed) console.log(`removed ${file}`);
      for (const c of r.skipped) console.log(`not run (--root): ${c}`);
      console.log(`kept ${r.kept.join(', ')} (remove them by hand when they are no longer needed)`);
    });
}
