import { Document, isSeq, type YAMLMap } from 'yaml';

/** An option value as a Headway config file writes it. */
export type OptionValue = string | number | boolean | readonly string[];

/** One Headway listener built from another proxy's config, with the notes that belong to it. */
export interface ImportedListener {
  /** Option name (the flag name, as the config file keys it) → value, in the order written. */
  readonly options: Map<string, OptionValue>;
  /** Comment lines written above the listener: what could not be translated, and why. */
  readonly notes: string[];
}

/** What an importer produces: process options, listeners and the notes for the whole file. */
export interface ImportedConfig {
  readonly source: string;
  readonly process: Map<string, OptionValue>;
  readonly listeners: ImportedListener[];
  readonly notes: string[];
}

export function newImportedConfig(source: string): ImportedConfig {
  return { source, process: new Map(), listeners: [], notes: [] };
}

/** `FILE:LINE directive args: why` — the one shape of every untranslated-directive note. */
export function untranslated(where: string, directive: string, why: string): string {
  return `not translated: ${where} ${directive}: ${why}`;
}

/**
 * The Headway YAML for an import: a header naming the source, every note as a comment (never
 * dropped silently), then the options. The text passes `headway check-config` when it has a listener.
 */
export function renderImportedConfig(config: ImportedConfig, tool: string): string {
  const plain: Record<string, unknown> = Object.fromEntries(config.process);
  plain['listeners'] = config.listeners.map((l) => Object.fromEntries(l.options));
  const doc = new Document(plain);
  const header = [
    ` Converted by \`headway import ${tool}\` from ${config.source}.`,
    ' Check it with `headway check-config FILE`; every directive that has no Headway equivalent is',
    ' named in a comment below, with its line in the source.',
  ];
  if (config.listeners.length === 0) header.push(' No listener could be translated.');
  doc.commentBefore = [...header, ...config.notes.map((n) => ` ${n}`)].join('\n');
  const seq = doc.get('listeners');
  if (isSeq(seq)) {
    seq.items.forEach((item, i) => {
      const notes = config.listeners[i]?.notes ?? [];
      if (notes.length > 0) (item as YAMLMap).commentBefore = notes.map((n) => ` ${n}`).join('\n');
    });
  }
  return doc.toString({ lineWidth: 0 });
}
