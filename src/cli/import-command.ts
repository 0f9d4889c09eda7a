import { existsSync, readFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import type { CommandModule } from 'yargs';
import { ConfigError, errorMessage } from '../core/errors.ts';
import { loadKubeAccess } from '../discovery/kubernetes/kube-access.ts';
import { importHaproxy } from '../import/haproxy-import.ts';
import { renderImportedConfig, type ImportedConfig } from '../import/imported-config.ts';
import { configMapData, importIngressNginxTcp } from '../import/ingress-nginx-tcp.ts';
import { importNginx } from '../import/nginx-import.ts';

const FORMATS = ['nginx', 'haproxy', 'ingress-nginx-tcp'] as const;
type Format = (typeof FORMATS)[number];

interface ImportFlags {
  readonly format: string;
  readonly source: string;
  readonly kubeconfig: string | undefined;
}

function readSource(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read: ${errorMessage(err)}`, { cause: err });
  }
}

/** `NS/NAME` of a tcp-services ConfigMap, read through the Kubernetes API. */
async function fetchConfigMapData(
  ref: string,
  kubeconfig: string | undefined,
): Promise<Record<string, string>> {
  const [namespace = '', name = ''] = ref.split('/');
  const access = loadKubeAccess({ kubeconfig, env: process.env });
  try {
    const map = await access.config
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace, name });
    return map.data ?? {};
  } catch (err) {
    throw new ConfigError(
      ref,
      `cannot read the ConfigMap from ${access.server}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}

async function importFrom(flags: ImportFlags): Promise<ImportedConfig> {
  const format = flags.format as Format;
  if (format === 'nginx') return importNginx(flags.source, readSource(flags.source));
  if (format === 'haproxy') return importHaproxy(flags.source, readSource(flags.source));
  // A path that exists is a file; otherwise NS/NAME names the ConfigMap in the cluster.
  if (existsSync(flags.source) || !/^[a-z0-9-]+\/[a-z0-9.-]+$/.test(flags.source)) {
    return importIngressNginxTcp(
      flags.source,
      configMapData(flags.source, readSource(flags.source)),
    );
  }
  return importIngressNginxTcp(
    `ConfigMap ${flags.source}`,
    await fetchConfigMapData(flags.source, flags.kubeconfig),
  );
}

/**
 * `headway import nginx|haproxy|ingress-nginx-tcp SOURCE`: prints a Headway YAML config on stdout,
 * with a comment for every directive that could not be translated. Exit 2 on unreadable input.
 */
export const importCommand: CommandModule<object, ImportFlags> = {
  command: 'import <format> <source>',
  describe:
    'Print a Headway config translated from an NGINX stream, HAProxy or ingress-nginx config',
  builder: (y) =>
    y
      .positional('format', {
        type: 'string',
        choices: FORMATS,
        demandOption: true,
        describe: 'What SOURCE is',
      })
      .positional('source', {
        type: 'string',
        demandOption: true,
        describe:
          'nginx.conf, haproxy.cfg, or a tcp-services ConfigMap: a YAML file or NAMESPACE/NAME in the cluster',
      })
      .option('kubeconfig', {
        type: 'string',
        requiresArg: true,
        describe:
          'kubeconfig for reading NAMESPACE/NAME (default: in-cluster, KUBECONFIG, ~/.kube/config)',
      })
      .example('$0 import nginx /etc/nginx/nginx.conf > headway.yaml', '')
      .example('$0 import ingress-nginx-tcp ingress-nginx/tcp-services', ''),
  handler: async (args) => {
    const config = await importFrom(args);
    process.stdout.write(renderImportedConfig(config, args.format));
  },
};
