/**
 * Pieces every importer shares: listen addresses, static backend lists and access rules, turned
 * from NGINX/HAProxy forms into Headway option values.
 */

/** A backend server as another proxy lists it. */
export interface ServerEntry {
  /** `HOST:PORT` or `[IPv6]:PORT`, as written. */
  readonly address: string;
  readonly weight: number;
  readonly line: number;
}

/** `6379`, `*:6379` and `0.0.0.0:6379`-style binds as a Headway `listen` value. */
export function listenAddress(bind: string): string {
  if (/^\d+$/.test(bind)) return `:${bind}`;
  if (bind.startsWith('*:')) return `:${bind.slice(2)}`;
  return bind;
}

/** `static://a:1,b:2=3`: weights other than 1 written after `=`; undefined for an empty list. */
export function staticBackends(servers: readonly Omit<ServerEntry, 'line'>[]): string | undefined {
  if (servers.length === 0) return undefined;
  const items = servers.map((s) => (s.weight === 1 ? s.address : `${s.address}=${s.weight}`));
  return `static://${items.join(',')}`;
}

export interface AccessRule {
  readonly allow: boolean;
  /** A CIDR, an address, or `all`. */
  readonly source: string;
  readonly line: number;
}

/**
 * First-match allow/deny rules (NGINX `allow`/`deny`, HAProxy `tcp-request connection reject`)
 * as Headway's two lists, where a deny always wins and a non-empty allow list admits only its
 * blocks. Exact for the common shapes ("deny these", "allow these, deny all"); any rule whose
 * meaning changes under deny-wins is named in a note.
 */
export function accessRules(rules: readonly AccessRule[]): {
  allow: string[];
  deny: string[];
  notes: string[];
} {
  const allow: string[] = [];
  const deny: string[] = [];
  const notes: string[] = [];
  let closedBy: AccessRule | undefined;
  for (const r of rules) {
    if (closedBy !== undefined) {
      notes.push(
        `line ${r.line} ${r.allow ? 'allow' : 'deny'} ${r.source}: unreachable after "${closedBy.allow ? 'allow' : 'deny'} all" (line ${closedBy.line}), left out`,
      );
      continue;
    }
    if (r.source === 'all') {
      closedBy = r;
      continue;
    }
    if (r.allow) allow.push(r.source);
    else {
      if (allow.length > 0) {
        notes.push(
          `line ${r.line} deny ${r.source} follows an allow: in Headway a deny wins over every allow, check the order still means what you want`,
        );
      }
      deny.push(r.source);
    }
  }
  // Without a closing "deny all", a client no rule matches is admitted: allow rules change nothing.
  if (closedBy === undefined || closedBy.allow) {
    if (allow.length > 0) {
      notes.push(
        'allow rules without a closing "deny all" change nothing (others are admitted too): left out',
      );
    }
    return { allow: [], deny, notes };
  }
  return { allow, deny, notes };
}
