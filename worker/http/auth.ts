/** S3ND_TOKEN: when set, every route but /healthz needs `Authorization: Bearer <token>`. */
import { timingSafeEqual } from 'node:crypto';

export function bearerCheck(token: string | undefined): (request: Request) => boolean {
  if (!token) return () => true;
  const expected = Buffer.from(`Bearer ${token}`);
  return (request) => {
    const given = Buffer.from(request.headers.get('authorization') ?? '');
    // Compare in constant time so the token cannot be guessed byte by byte from response timing.
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}
