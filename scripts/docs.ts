// Regenerates the README's flag table from the option schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { withFlagTable } from '../src/config/flag-reference.ts';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, withFlagTable(readFileSync(path, 'utf8')));
