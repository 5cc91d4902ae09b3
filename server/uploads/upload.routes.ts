import type { IncomingMessage } from 'node:http';
import multer, { type MulterFile, type StorageEngine } from '@koa/multer';
import Router from '@koa/router';
import type { AccessService } from '../auth/access.service.ts';
import { requireVisitor } from '../auth/session.middleware.ts';
import { AppError, unauthorized } from '../errors.ts';
import type { AppContext, AppState } from '../http/context.ts';
import {
  downloadName,
  type StagedFile,
  toUploadResponse,
  type UploadRow,
  type UploadService,
  uploadTooLarge,
} from './upload.service.ts';

/**
 * Streams the part straight to a `.part` file in the upload directory; nothing is buffered whole in memory.
 * The staging promise is remembered per request because multer can report a broken body before the engine
 * has finished cleaning up; the route waits for it so that no answer leaves a partial file behind.
 */
function stagingStorage(service: UploadService, inFlight: WeakMap<IncomingMessage, Promise<StagedFile>>): StorageEngine {
  return {
    _handleFile(req, file, cb) {
      const staging = service.stage(file.stream);
      inFlight.set(req, staging);
      staging.then(
        (staged) => cb(null, { staged }),
        (err) => cb(err),
      );
    },
    _removeFile(_req, file, cb) {
      const staged = file.staged as StagedFile | undefined;
      if (!staged) return cb(null);
      service.discard(staged).then(
        () => cb(null),
        (err) => cb(err),
      );
    },
  };
}

const malformed = () => new AppError(400, 'UPLOAD_MALFORMED', '上传请求格式有误，请重新选择文件上传');

function uploadError(err: any, maxBytes: number): unknown {
  if (err instanceof AppError) return err;
  switch (err?.code) {
    case 'LIMIT_FILE_SIZE':
      return uploadTooLarge(maxBytes);
    case 'LIMIT_UNEXPECTED_FILE':
      return new AppError(400, 'UPLOAD_FIELD_INVALID', '文件字段名应为 file');
    case 'LIMIT_FILE_COUNT':
      return new AppError(400, 'UPLOAD_TOO_MANY_FILES', '每次只能上传一个文件');
  }
  // file-system faults (disk full, permissions) are ours, not the client's
  if (err?.syscall) return err;
  // busboy reports a broken body as a plain Error ('Unexpected end of form', 'Boundary not found', …)
  if (err?.name === 'MulterError' || err instanceof Error) return malformed();
  return err;
}

/** RFC 6266 / 8187: a plain ASCII fallback plus the UTF-8 name, percent-encoded down to attr-char. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

export function uploadRoutes(service: UploadService, access: AccessService, maxBytes: number): Router<AppState> {
  const router = new Router<AppState>();
  const inFlight = new WeakMap<IncomingMessage, Promise<StagedFile>>();
  const parse = multer({
    storage: stagingStorage(service, inFlight),
    // Form.io's url provider sends `file`, `name` and `dir`; anything much beyond that is not ours
    limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 4096, parts: 12, headerPairs: 50 },
    // browsers send the file name as raw UTF-8; busboy would otherwise read it as latin1
    defParamCharset: 'utf8',
  }).single('file');

  router.post('/api/uploads', async (ctx: AppContext) => {
    const visitor = requireVisitor(ctx);
    if (!ctx.is('multipart')) throw new AppError(400, 'UPLOAD_MISSING', '请选择要上传的文件');
    try {
      await parse(ctx as any, async () => {});
    } catch (err) {
      const staging = inFlight.get(ctx.req);
      if (staging) await staging.then((staged) => service.discard(staged), () => undefined);
      throw uploadError(err, maxBytes);
    }
    const file = (ctx as any).file as (MulterFile & { staged?: StagedFile }) | undefined;
    if (!file?.staged) throw new AppError(400, 'UPLOAD_MISSING', '请选择要上传的文件');
    const row = await service.accept(visitor.id, file.originalname, file.staged);
    ctx.status = 201;
    ctx.body = toUploadResponse(row);
  });

  router.get('/api/uploads/:id', async (ctx: AppContext) => {
    const { visitor, staff } = ctx.state;
    // Anonymous callers learn nothing either way; everyone else who may not see the file gets the same 404
    // as for an unknown id, so ids cannot be probed.
    if (!visitor && !staff) throw unauthorized('LOGIN_REQUIRED', '请先登录');
    const notFound = new AppError(404, 'UPLOAD_NOT_FOUND', '文件不存在或无权查看');
    const row = await service.get(ctx.params.id);
    if (!row || !(await canSee(row))) throw notFound;
    let opened: Awaited<ReturnType<UploadService['read']>>;
    try {
      opened = await service.read(row.id);
    } catch (err: any) {
      if (err?.code === 'ENOENT') throw notFound;
      throw err;
    }
    if (!opened) throw notFound;
    // PDFs can carry scripts: have them downloaded rather than rendered in our origin
    const kind = row.mime === 'application/pdf' ? 'attachment' : 'inline';
    // body first: Koa drops Content-Length and guesses a type when a stream is assigned. Koa never reads
    // the body of a HEAD answer, so the file would stay open: close it at once.
    if (ctx.method === 'HEAD') {
      opened.stream.destroy();
      ctx.status = 200;
    } else ctx.body = opened.stream;
    ctx.set('Content-Type', row.mime);
    ctx.set('Content-Length', String(row.size));
    ctx.set('Content-Disposition', contentDisposition(kind, downloadName(row)));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'private, no-store');
    ctx.set('Content-Security-Policy', "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");

    async function canSee(r: UploadRow): Promise<boolean> {
      if (visitor && visitor.id === r.visitorId) return true;
      if (!staff) return false;
      if (staff.roles.includes('admin')) return true;
      return r.applicationId !== null && access.staffCanSeeApplication(staff, r.applicationId);
    }
  });

  return router;
}
