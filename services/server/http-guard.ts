/**
 * The guard in front of the plain HTTP endpoints (the dashboard): a request naming a Host this
 * server does not serve gets 421 (a DNS-rebinding page reaches a loopback server under its own
 * name); when credentials are required, a request without a `read` or `submit` one gets 401, a
 * worker token 403.
 *
 * Browsers cannot add an `authorization` header to a page load, so besides the header (and a client
 * certificate) the dashboard takes its token once as `?token=…`: the guard checks it, stores it in
 * an HttpOnly, SameSite=Strict cookie (`harden_token`) and redirects to the same page without it,
 * so that the token leaves the address bar and the history.
 */
import type { Authenticator } from '../../libs/rpc/index.js';
import type { HttpHandler, NodeRequest, NodeResponse } from '../../libs/rpc/index.js';

export const TOKEN_COOKIE = 'harden_token';

function cookie(req: NodeRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  for (const part of (Array.isArray(header) ? header.join(';') : (header ?? '')).split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

function refuse(res: NodeResponse, status: number, text: string, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
  return true;
}

/** Answers (refuses) the requests that may not go on; returns false for those that may. */
export function createHttpGuard(authn: Authenticator): HttpHandler {
  return (req, res) => {
    const authority = ('authority' in req ? (req as { authority?: string }).authority : undefined) ?? req.headers.host;
    if (!authn.hostAllowed(authority)) return refuse(res, 421, 'this server does not serve the host the request names');
    if (!authn.required) return false;
    const url = new URL(req.url ?? '/', 'http://x');
    const fromQuery = url.searchParams.get('token');
    const token = fromQuery ?? cookie(req, TOKEN_COOKIE);
    const header = req.headers.authorization ?? (token ? `Bearer ${token}` : undefined);
    const { caller } = authn.identify(header, req.socket);
    if (!caller) return refuse(res, 401, 'this dashboard needs a read token: open it once as /?token=TOKEN, or send authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer' });
    if (caller.role === 'worker') return refuse(res, 403, 'a worker token does not open the dashboard');
    if (fromQuery !== null) {
      url.searchParams.delete('token');
      const secure = 'encrypted' in req.socket && (req.socket as { encrypted?: boolean }).encrypted ? '; Secure' : '';
      return refuse(res, 303, 'see other', {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(fromQuery)}; Path=/; HttpOnly; SameSite=Strict${secure}`,
        'referrer-policy': 'no-referrer',
      });
    }
    return false;
  };
}
