import { parseAllDocuments } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { newImportedConfig, untranslated, type ImportedConfig } from './imported-config.ts';
import { parseTcpServiceEntry, type TcpServiceEntry } from '../config/tcp-services-entry.ts';

export { parseTcpServiceEntry, type TcpServiceEntry };

/** The `data` map of the first ConfigMap in a YAML file (a manifest or `kubectl get -o yaml`). */
export function configMapData(file: string, text: string): Record<string, string> {
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ConfigError(file, doc.errors[0]?.message ?? 'bad YAML');
    const value: unknown = doc.toJS();
    const items: unknown[] =
      typeof value === 'object' && value !== null && 'items' in value && Array.isArray(value.items)
        ? value.items
        : [value];
    for (const item of items) {
      if (typeof item !== 'object' || item === null) continue;
      if (!('kind' in item) || item.kind !== 'ConfigMap') continue;
      const data = 'data' in item ? item.data : undefined;
      if (data === undefined || data === null) return {};
      if (typeof data !== 'object') throw new ConfigError(`${file}: data`, 'is not a map');
      return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)]));
    }
  }
  throw new ConfigError(file, 'holds no ConfigMap');
}

/**
 * `headway import ingress-nginx-tcp`: each entry becomes a listener on `:PORT` whose backends are
 * the Service's EndpointSlices (k8s://), pod by pod. Malformed entries are named and skipped.
 */
export function importIngressNginxTcp(
  source: string,
  data: Record<string, string>,
): ImportedConfig {
  const out = newImportedConfig(source);
  for (const [key, value] of Object.entries(data).sort(([a], [b]) => Number(a) - Number(b))) {
    const entry = parseTcpServiceEntry(key, value);
    if (typeof entry === 'string') {
      out.notes.push(untranslated(source, `"${key}": "${value}"`, entry));
      continue;
    }
    const notes: string[] = [];
    if (typeof entry.servicePort === 'number') {
      notes.push(
        `${entry.namespace}/${entry.service}:${entry.servicePort}: k8s:// picks the EndpointSlice port by name or target port number; if the Service maps port ${entry.servicePort} to another targetPort, write the port's name instead`,
      );
    }
    const options = new Map<string, string | number | boolean | readonly string[]>([
      ['name', `${entry.namespace}-${entry.service}-${entry.listenPort}`],
      ['listen', `:${entry.listenPort}`],
      ['backends', `k8s://${entry.namespace}/${entry.service}:${entry.servicePort}`],
      // ingress-nginx balances TCP services round-robin across the endpoints.
      ['strategy', 'round-robin'],
    ]);
    if (entry.decodeProxy) options.set('accept-proxy-protocol', true);
    if (entry.encodeProxy) options.set('proxy-protocol', 'v1');
    out.listeners.push({ options, notes });
  }
  return out;
}
