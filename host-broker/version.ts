// The hub's version, from package.json (for $SYS/broker/version, hub_info, backups).
import * as fs from 'fs';
import * as path from 'path';

export const HUB_VERSION: string = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version;
