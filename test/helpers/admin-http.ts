import { request } from 'node:http';

export interface AdminReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/**
 * One raw HTTP request to the admin endpoint with exactly the headers given
 * (fetch would add or forbid some, e.g. Origin and Sec-Fetch-Site).
 */
export function adminRequest(
  adminUrl: string,
  method: string,
  path: string,
  headers: Readonly<Record<string, string>> = {},
  body = '',
): Promise<AdminReply> {
  const url = new URL(adminUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port),
        method,
        path,
        headers: { connection: 'close', ...headers },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** POST a control action the way the docs show it: JSON content type, optional bearer token. */
export function control(
  adminUrl: string,
  path: string,
  token?: string,
  extra: Readonly<Record<string, string>> = {},
): Promise<AdminReply> {
  return adminRequest(adminUrl, 'POST', path, {
    'content-type': 'application/json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    ...extra,
  });
}
