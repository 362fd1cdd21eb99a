#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=4
// The `host-broker` command. It runs the compiled hub in build/ (plain
// JavaScript, the CLI bundled in one file: no TypeScript compiler in the
// process); bin/build-host.cjs builds it at install (npm's prepare) and again
// here, first, if a source is newer.
// The first line tunes memory for a small host (bin/README.md): glibc keeps
// allocations of 128 KiB and more (scrypt's 16 MiB per password check) out of
// its per-thread arenas, so they go back to the system when freed, and V8's
// young generation stays within 4 MiB semi-spaces instead of growing to 16.
require('./build-host.cjs').ensureHostBuilt();
require('../build/host-broker-cli.js').main(process.argv);
