/** The placeholder a routing pattern uses for the label that names the backend. */
export const SNI_PATTERN_PLACEHOLDER = '{hostname}';

const LABEL = /^[a-z0-9_-]{1,63}$/;
// eslint-disable-next-line no-control-regex -- the point is to find bytes outside ASCII
const NOT_ASCII = /[^\x00-\x7f]/;

/**
 * Match a server name against a routing pattern such as
 * `{hostname}.db.example.com` and return what `{hostname}` stands for: one
 * DNS label (letters, digits, `-`, `_`; no dots), lowercased. So
 * `matchSniPattern('{hostname}.db.example.com', 'DB-1.db.example.com')` is
 * `'db-1'`. The placeholder may share its label with fixed text
 * (`pg-{hostname}.example.com`).
 *
 * Comparison ignores ASCII case. Returns undefined when the name does not
 * fit, when either argument has non-ASCII characters (so no Unicode case
 * folding can turn one name into another), or when the pattern does not hold
 * exactly one placeholder. Names are compared as given: a trailing dot is
 * not ignored.
 */
export function matchSniPattern(pattern: string, serverName: string): string | undefined {
  if (NOT_ASCII.test(pattern) || NOT_ASCII.test(serverName)) return undefined;
  const lowerPattern = pattern.toLowerCase();
  const at = lowerPattern.indexOf(SNI_PATTERN_PLACEHOLDER);
  if (at < 0) return undefined;
  const suffixStart = at + SNI_PATTERN_PLACEHOLDER.length;
  if (lowerPattern.includes(SNI_PATTERN_PLACEHOLDER, suffixStart)) return undefined;
  const name = serverName.toLowerCase();
  const suffixLength = lowerPattern.length - suffixStart;
  if (
    name.length <= at + suffixLength ||
    !name.startsWith(lowerPattern.slice(0, at)) ||
    !name.endsWith(lowerPattern.slice(suffixStart))
  ) {
    return undefined;
  }
  const label = name.slice(at, name.length - suffixLength);
  return LABEL.test(label) ? label : undefined;
}
