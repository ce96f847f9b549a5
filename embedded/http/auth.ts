// Bearer token authentication, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function tokenChecker(token: string): (req: IncomingMessage) => boolean {
  const want = createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return false;
    const got = createHash('sha256').update(m[1]!).digest();
    return timingSafeEqual(want, got);
  };
}
