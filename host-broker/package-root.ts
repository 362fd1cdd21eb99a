// The directory of this package (the first one up with a package.json), so that
// files found relative to it work from the sources and from the compiled copy
// in build/ alike (bin/build-host.cjs).
import * as fs from 'fs';
import * as path from 'path';

export function packageRoot(from = __dirname): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
