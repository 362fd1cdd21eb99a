// The hub's version, from package.json (for $SYS/broker/version, hub_info, backups).
import * as fs from 'fs';
import * as path from 'path';
import { packageRoot } from './package-root';

export const HUB_VERSION: string = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
