import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../../core/errors.ts';

/** Where a pod's service-account credentials are mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeAccess {
  readonly config: KubeConfig;
  /** The namespace to use when the URI names none. */
  readonly defaultNamespace: string;
  /** How credentials were found, for logs and /backends. */
  readonly origin: 'in-cluster' | 'kubeconfig';
  readonly server: string;
}

export interface KubeAccessOptions {
  /** `--kubeconfig`, when given. */
  readonly kubeconfig: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * Find Kubernetes credentials: an explicit `--kubeconfig` first; inside a pod
 * the service account (client-node re-reads its token file, so rotated bound
 * tokens keep working); otherwise `KUBECONFIG` or `~/.kube/config`. Throws a
 * ConfigError (exit 2) when there are none or the file is unreadable.
 */
export function loadKubeAccess(opts: KubeAccessOptions): KubeAccess {
  const config = new KubeConfig();
  const inPod =
    opts.env.KUBERNETES_SERVICE_HOST !== undefined &&
    existsSync(join(SERVICE_ACCOUNT_DIR, 'token'));
  const podNamespace = readPodNamespace();
  let origin: KubeAccess['origin'];
  let field: string;
  try {
    if (opts.kubeconfig !== undefined) {
      field = '--kubeconfig';
      config.loadFromFile(opts.kubeconfig);
      origin = 'kubeconfig';
    } else if (inPod) {
      field = 'in-cluster credentials';
      config.loadFromCluster();
      origin = 'in-cluster';
    } else {
      const fromEnv = opts.env.KUBECONFIG?.split(':').find((p) => p !== '' && existsSync(p));
      const home = join(homedir(), '.kube', 'config');
      const file = fromEnv ?? (existsSync(home) ? home : undefined);
      if (file === undefined) {
        throw new ConfigError(
          '--backends',
          'k8s:// needs Kubernetes credentials: run in a pod with a service account, or give --kubeconfig, KUBECONFIG or ~/.kube/config',
        );
      }
      field = fromEnv !== undefined ? 'KUBECONFIG' : '~/.kube/config';
      config.loadFromFile(file);
      origin = 'kubeconfig';
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      opts.kubeconfig !== undefined ? '--kubeconfig' : 'kubeconfig',
      `cannot load: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null)
    throw new ConfigError(field, 'has no current cluster (check current-context)');
  const contextNamespace = config.getContextObject(config.getCurrentContext())?.namespace;
  return {
    config,
    defaultNamespace: podNamespace ?? contextNamespace ?? 'default',
    origin,
    server: cluster.server,
  };
}

function readPodNamespace(): string | undefined {
  try {
    const ns = readFileSync(join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim();
    return ns === '' ? undefined : ns;
  } catch {
    return undefined;
  }
}
