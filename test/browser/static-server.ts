/**
 * Static HTTP server for browser tests: serves the repository root on 127.0.0.1 with the
 * cross-origin-isolation headers onnxruntime-web needs for threads (COOP same-origin,
 * COEP require-corp, CORP same-origin) and the MIME types browsers insist on for wasm and
 * module scripts. Only a few top-level folders are served.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.mofa': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Top-level folders reachable over HTTP. */
const SERVED_ROOTS = ['dist', 'node_modules', 'models', 'demo', 'test', 'build'];

export interface StaticServer {
  server: Server;
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  baseUrl: string;
  close(): Promise<void>;
}

/** Starts the server on a random free port of 127.0.0.1, serving files under `root`. */
export async function startStaticServer(root: string): Promise<StaticServer> {
  const rootAbs = path.resolve(root);
  const server = createServer(async (req, res) => {
    const headers: Record<string, string> = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    const fail = (status: number, message: string) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(message);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'method not allowed');
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      if (urlPath === '/favicon.ico') {
        res.writeHead(204, headers);
        return res.end();
      }
      const file = path.resolve(rootAbs, '.' + urlPath);
      const rel = path.relative(rootAbs, file);
      if (rel.startsWith('..') || path.isAbsolute(rel) || !SERVED_ROOTS.includes(rel.split(path.sep)[0])) {
        return fail(404, `not served: ${urlPath}`);
      }
      const info = await stat(file).catch(() => null);
      if (!info?.isFile()) return fail(404, `not found: ${urlPath}`);
      res.writeHead(200, {
        ...headers,
        'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': String(info.size),
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch (e) {
      fail(500, String(e));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
