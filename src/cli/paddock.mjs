#!/usr/bin/env node
// The `paddock` command. paddock is TypeScript run through tsx; this shim registers it.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
