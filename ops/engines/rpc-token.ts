import { sign } from "node:crypto";

/**
 * An RS256 JWT that Besu accepts on an RPC endpoint with JWT authentication: Besu refuses a token
 * without `exp` (DefaultAuthenticationService) and allows the methods its `permissions` list
 * (`*:*` = all; JsonRpcMethod). Signed with network/<name>/rpc-jwt.key.
 */
export function signRpcToken(privateKeyPem: string, ttlSeconds = 3600, now = Date.now()): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(now / 1000);
  const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode({ iat, exp: iat + ttlSeconds, permissions: ["*:*"] })}`;
  const signature = sign("RSA-SHA256", Buffer.from(unsigned), privateKeyPem).toString("base64url");
  return `${unsigned}.${signature}`;
}
