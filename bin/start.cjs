#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=4
// `npm start`: the compiled tools/start.ts (build/tools/start.js), built first
// if a source is newer than build/ (bin/build-host.cjs). Memory tuning on the
// first line as for the host-broker command (bin/README.md).
require('./build-host.cjs').ensureHostBuilt();
require('../build/tools/start.js').main();
