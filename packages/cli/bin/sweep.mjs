#!/usr/bin/env node
// Entry point of the `sweep` command. The sources are TypeScript run directly
// (no build step), so tsx is registered before they are imported.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
