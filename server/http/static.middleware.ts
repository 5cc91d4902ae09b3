import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from './context.ts';

export const WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

/**
 * As strict as Form.io lets it be:
 * - script-src 'self' only: no inline scripts (Vite's modulepreload polyfill is off), no 'unsafe-eval'
 *   (the pages set Formio.Evaluator.noeval; our forms use simple conditionals, patterns and JSONLogic).
 * - style-src needs 'unsafe-inline': Form.io, Choices.js and flatpickr write style attributes, and the HTML
 *   carries the skeleton styles inline so it paints before any stylesheet arrives.
 * - img-src data:: Bootstrap and Form.io draw checkboxes, select arrows and our icons from data: SVGs;
 *   blob: lets a page preview a picked image.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Page entry points: '/staff' and '/staff/' both open staff/index.html (the pages route by hash). */
const PAGES = new Set(['staff', 'gate', 'admin']);

function pick(acceptEncoding: string): ('br' | 'gzip')[] {
  const accepts = (enc: string) => new RegExp(`(^|[,\\s])${enc}(?!;q=0(\\.0*)?(,|$))`, 'i').test(acceptEncoding);
  return (['br', 'gzip'] as const).filter(accepts);
}

async function statFile(file: string): Promise<fs.Stats | undefined> {
  try {
    const s = await fs.promises.stat(file);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the Vite build: hashed assets cached for a year, HTML revalidated every time (ETag), the brotli or
 * gzip sibling written at build time when the browser takes it. Leaves /api and the probes to the routers.
 */
export function staticMiddleware(root = WEB_ROOT): Middleware {
  const base = path.resolve(root);
  return async (ctx, next) => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.path.startsWith('/api/') || ctx.path === '/healthz' || ctx.path === '/readyz') {
      return next();
    }
    let rel: string;
    try {
      rel = decodeURIComponent(ctx.path);
    } catch {
      return next();
    }
    const first = rel.split('/')[1] ?? '';
    if (PAGES.has(first) && rel === `/${first}`) {
      ctx.status = 301;
      ctx.redirect(`/${first}/${ctx.querystring ? `?${ctx.querystring}` : ''}`);
      return;
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.join(base, path.normalize(rel));
    if (!file.startsWith(base + path.sep) || rel.includes('\0')) return next();
    const ext = path.extname(file);
    const type = TYPES[ext];
    const stat = type ? await statFile(file) : undefined;
    if (!stat) {
      if (ext === '.html' && (rel === '/index.html' || PAGES.has(first))) {
        // On a first start the pages are built after the server listens: say so instead of a bare 404.
        ctx.status = 503;
        ctx.set('Retry-After', '10');
        ctx.type = 'text/plain; charset=utf-8';
        ctx.body = '网页正在准备中，请稍候刷新；如长时间未就绪，请运行 npm run build:web（The web pages are being built: reload in a moment）';
        return;
      }
      return next();
    }

    const isHtml = ext === '.html';
    const hashed = rel.startsWith('/assets/');
    ctx.set('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    if (isHtml) ctx.set('Permissions-Policy', 'camera=(self), microphone=(), geolocation=()');
    ctx.vary('Accept-Encoding');

    let served = file;
    let size = stat.size;
    let encoding: string | undefined;
    for (const enc of pick(ctx.get('Accept-Encoding'))) {
      const sibling = await statFile(`${file}.${enc === 'br' ? 'br' : 'gz'}`);
      if (sibling) {
        served = `${file}.${enc === 'br' ? 'br' : 'gz'}`;
        size = sibling.size;
        encoding = enc;
        break;
      }
    }
    const etag = `"${stat.size.toString(36)}-${Math.floor(stat.mtimeMs).toString(36)}${encoding ? `-${encoding}` : ''}"`;
    ctx.set('ETag', etag);
    ctx.set('Last-Modified', stat.mtime.toUTCString());
    ctx.type = type;
    if (encoding) ctx.set('Content-Encoding', encoding);
    if (ctx.get('If-None-Match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.status = 200;
    ctx.length = size;
    if (ctx.method === 'HEAD') return;
    ctx.body = fs.createReadStream(served);
  };
}

/** Builds the pages with Vite when dist/web has no index.html (a fresh clone: `npm install && npm start`). */
export async function ensureWebBuilt(root = WEB_ROOT): Promise<boolean> {
  if (fs.existsSync(path.join(root, 'index.html'))) return false;
  const { build } = await import('vite');
  await build({ configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)), logLevel: 'warn' });
  return true;
}
