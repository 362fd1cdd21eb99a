#!/usr/bin/env node
// The `host-broker` command. The host side is TypeScript run through tsx
// (no build step), so register tsx's loader and hand over to the CLI.
require('tsx/cjs');
require('../host-broker/cli.ts').main(process.argv);
