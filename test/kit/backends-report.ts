import type { BackendsReport, ListenerReport } from '../../src/admin/backends-report.ts';
import { getJson } from '../helpers/sockets.ts';

/** The `/backends` admin report: the type the admin server serialises, so tests follow its changes. */
export type {
  BackendReport,
  BackendsReport,
  ListenerReport,
} from '../../src/admin/backends-report.ts';

/** GET `/backends` from a running proxy's admin URL. */
export function backendsReport(adminUrl: string): Promise<BackendsReport> {
  return getJson<BackendsReport>(`${adminUrl}/backends`);
}

/** The report's listener at `index` (the first by default); throws if there is none. */
export async function listenerReport(adminUrl: string, index = 0): Promise<ListenerReport> {
  const listener = (await backendsReport(adminUrl)).listeners[index];
  if (listener === undefined) throw new Error(`/backends has no listener #${index}`);
  return listener;
}
