// Regenerates the flag table of docs/configuration.md from the option schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { FLAG_TABLE_PAGE, withFlagTable } from '../src/config/flag-reference.ts';

const path = new URL(`../${FLAG_TABLE_PAGE}`, import.meta.url);
writeFileSync(path, withFlagTable(readFileSync(path, 'utf8')));
