import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

/**
 * Serves `registry` at /metrics for Prometheus. Binds 127.0.0.1 unless told otherwise: metrics name
 * accounts and rates, which is nobody's business outside the host.
 */
export async function serveMetrics(
  registry: Registry,
  { host = "127.0.0.1", port = 9464 }: { host?: string; port?: number } = {},
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.method !== "GET" || request.url?.split("?")[0] !== "/metrics") {
      response.writeHead(404).end();
      return;
    }
    registry
      .metrics()
      .then((text) => response.writeHead(200, { "content-type": registry.contentType }).end(text))
      .catch((error: Error) => response.writeHead(500).end(error.message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://${host}:${address.port}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
