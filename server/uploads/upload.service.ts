import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import { AppError } from '../errors.ts';

/** Sniffed type -> extension. Only these are accepted, whatever the name or declared type says. */
export const ALLOWED_UPLOAD_TYPES: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'application/pdf': 'pdf',
};

// file-type never needs more than this many leading bytes for the formats we accept.
const SNIFF_BYTES = 4100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface UploadRow {
  id: string;
  visitorId: number;
  applicationId: number | null;
  originalName: string;
  mime: string;
  size: number;
  storageName: string;
  sha256: string;
  createdAt: Date;
}

/** What the application and task APIs show for an attachment (`attachments` in docs/api.md). */
export interface Attachment {
  id: string;
  name: string;
  mime: string;
  size: number;
  url: string;
}

/** The POST /api/uploads answer; also what the Form.io `url` storage provider keeps as `value.data`. */
export interface UploadResponse {
  id: string;
  name: string;
  originalName: string;
  size: number;
  type: string;
  url: string;
}

/** A file written to a `.part` name, not yet checked or recorded. */
export interface StagedFile {
  storageName: string;
  partPath: string;
  size: number;
  sha256: string;
  head: Buffer;
}

export interface UploadServiceOptions {
  knex: Knex;
  /** DATA_DIR/uploads: created on first use, mode 0700. */
  dir: string;
  maxBytes: number;
  clock: Clock;
}

export const uploadUrl = (id: string) => `/api/uploads/${id}`;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / 1024 / 1024).toFixed(1))} MB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KB`;
  return `${bytes} 字节`;
}

export const uploadTooLarge = (maxBytes: number) =>
  new AppError(413, 'UPLOAD_TOO_LARGE', `文件过大，单个文件不能超过 ${formatBytes(maxBytes)}`, { maxBytes });

export const uploadTypeNotAllowed = () =>
  new AppError(415, 'UPLOAD_TYPE_NOT_ALLOWED', '仅支持上传 JPG、PNG 图片或 PDF 文件');

export const uploadNotFound = (details?: unknown) =>
  new AppError(400, 'UPLOAD_NOT_FOUND', '附件不存在或已失效，请重新上传', details);

/**
 * The name the visitor gave is only ever shown, never used in a path: strip directories, control and
 * format characters (bidirectional overrides can disguise `gpj.exe` as `exe.jpg`), and cap the length.
 */
export function cleanOriginalName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = base
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .trim()
    .slice(0, 200);
  return cleaned || 'upload';
}

/** The download name, with an extension that matches the sniffed type so the OS opens it with the right program. */
export function downloadName(row: Pick<UploadRow, 'originalName' | 'mime'>): string {
  const ext = ALLOWED_UPLOAD_TYPES[row.mime];
  if (!ext) return row.originalName;
  const lower = row.originalName.toLowerCase();
  const ok = ext === 'jpg' ? /\.(jpe?g)$/.test(lower) : lower.endsWith(`.${ext}`);
  return ok ? row.originalName : `${row.originalName}.${ext}`;
}

export function toUploadResponse(row: UploadRow): UploadResponse {
  return {
    id: row.id,
    name: row.originalName,
    originalName: row.originalName,
    size: row.size,
    type: row.mime,
    url: uploadUrl(row.id),
  };
}

export function toAttachment(row: UploadRow): Attachment {
  return { id: row.id, name: row.originalName, mime: row.mime, size: row.size, url: uploadUrl(row.id) };
}

/**
 * The upload ids in a Form.io file component value (`[{ storage: 'url', url, data: { id, … } }]`). The value
 * comes from the browser: use only the ids, then link them (which checks ownership) and rebuild the value
 * with `formioFileValue` so no client-supplied url or name is stored.
 */
export function uploadIdsFromFormValue(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const ids: string[] = [];
  for (const item of value) {
    const id = item && typeof item === 'object' ? ((item as any).data?.id ?? (item as any).id) : undefined;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

/** A Form.io file value entry rebuilt from our own record. */
export function formioFileValue(row: UploadRow) {
  const url = uploadUrl(row.id);
  return {
    storage: 'url',
    name: row.originalName,
    originalName: row.originalName,
    size: row.size,
    type: row.mime,
    url,
    data: toUploadResponse(row),
  };
}

function fromDb(r: any): UploadRow {
  return {
    id: r.id,
    visitorId: Number(r.visitor_id),
    applicationId: r.application_id === null ? null : Number(r.application_id),
    originalName: r.original_name,
    mime: r.mime,
    size: Number(r.size),
    storageName: r.storage_name,
    sha256: r.sha256,
    createdAt: new Date(r.created_at),
  };
}

export async function sniffUploadType(head: Buffer): Promise<string | null> {
  const detected = await fileTypeFromBuffer(head);
  return detected && ALLOWED_UPLOAD_TYPES[detected.mime] ? detected.mime : null;
}

export class UploadService {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly knex: Knex;
  private readonly clock: Clock;
  private dirReady: Promise<void> | undefined;

  constructor(opts: UploadServiceOptions) {
    this.knex = opts.knex;
    this.dir = path.resolve(opts.dir);
    this.maxBytes = opts.maxBytes;
    this.clock = opts.clock;
  }

  private ensureDir(): Promise<void> {
    this.dirReady ??= fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.dirReady;
  }

  private filePath(storageName: string): string {
    // storage names are ours (uuids), but a corrupted row must still never point outside the directory
    if (!UUID.test(storageName)) throw new Error(`invalid storage name ${storageName}`);
    return path.join(this.dir, storageName);
  }

  /** Stores a file held in memory (tests, server-side producers); the HTTP route streams instead. */
  async store(visitorId: number, file: { originalName: string; bytes: Buffer }): Promise<UploadRow> {
    if (file.bytes.length > this.maxBytes) throw uploadTooLarge(this.maxBytes);
    const staged = await this.stage(Readable.from([file.bytes]));
    return this.accept(visitorId, file.originalName, staged);
  }

  /**
   * Writes a stream to a `.part` file (mode 0600) while counting, hashing and keeping the first bytes for
   * sniffing. Over the limit it stops writing, removes what was written and throws 413; the rest of the
   * source is drained rather than destroyed, so a multipart parser feeding it can finish the request.
   */
  async stage(source: Readable): Promise<StagedFile> {
    await this.ensureDir();
    const storageName = randomUUID();
    const partPath = path.join(this.dir, `${storageName}.part`);
    const hash = createHash('sha256');
    const headChunks: Buffer[] = [];
    let headLength = 0;
    let size = 0;
    // opened before any data flows: a lazily opened stream could create the file after the cleanup below ran
    const out = (await fs.promises.open(partPath, 'wx', 0o600)).createWriteStream();
    try {
      for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.maxBytes) throw uploadTooLarge(this.maxBytes);
        hash.update(chunk);
        if (headLength < SNIFF_BYTES) {
          headChunks.push(chunk.subarray(0, SNIFF_BYTES - headLength));
          headLength += Math.min(chunk.length, SNIFF_BYTES - headLength);
        }
        if (!out.write(chunk)) await once(out, 'drain');
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (err) {
      source.resume();
      if (!out.closed) {
        const closed = once(out, 'close').catch(() => undefined);
        out.destroy();
        await closed;
      }
      await fs.promises.rm(partPath, { force: true });
      throw err;
    }
    return { storageName, partPath, size, sha256: hash.digest('hex'), head: Buffer.concat(headChunks) };
  }

  /** Removes a staged file that will not be accepted. */
  async discard(staged: Pick<StagedFile, 'partPath'>): Promise<void> {
    await fs.promises.rm(staged.partPath, { force: true });
  }

  /** Checks the content type, moves the staged file to its final name and records it; discards it on any failure. */
  async accept(visitorId: number, originalName: string | undefined, staged: StagedFile): Promise<UploadRow> {
    try {
      if (staged.size === 0) throw new AppError(400, 'UPLOAD_EMPTY', '文件内容为空');
      const mime = await sniffUploadType(staged.head);
      if (!mime) throw uploadTypeNotAllowed();
      const finalPath = this.filePath(staged.storageName);
      await fs.promises.rename(staged.partPath, finalPath);
      const row = {
        id: randomUUID(),
        visitor_id: visitorId,
        application_id: null,
        original_name: cleanOriginalName(originalName),
        mime,
        size: staged.size,
        storage_name: staged.storageName,
        sha256: staged.sha256,
        created_at: this.clock.now(),
      };
      try {
        await this.knex('uploads').insert(row);
      } catch (err) {
        await fs.promises.rm(finalPath, { force: true });
        throw err;
      }
      return fromDb(row);
    } finally {
      await this.discard(staged);
    }
  }

  async get(id: string, trx: Knex = this.knex): Promise<UploadRow | null> {
    // PostgreSQL rejects a malformed uuid with an error; an unknown id is simply not found
    if (typeof id !== 'string' || !UUID.test(id)) return null;
    const row = await trx('uploads').where({ id }).first();
    return row ? fromDb(row) : null;
  }

  /** The stored bytes; throws ENOENT when the file is gone (the route answers 404). */
  async read(id: string): Promise<{ row: UploadRow; stream: Readable } | null> {
    const row = await this.get(id);
    if (!row) return null;
    const handle = await fs.promises.open(this.filePath(row.storageName), 'r');
    return { row, stream: handle.createReadStream() };
  }

  async readBuffer(id: string): Promise<Buffer | null> {
    const row = await this.get(id);
    return row ? fs.promises.readFile(this.filePath(row.storageName)) : null;
  }

  /**
   * Attaches the visitor's uploads to a new application inside the caller's transaction. One conditional
   * update, so two applications racing for the same upload cannot both get it.
   */
  async linkToApplication(trx: Knex, visitorId: number, uploadIds: string[], applicationId: number): Promise<void> {
    const ids = [...new Set(uploadIds)];
    if (!ids.length) return;
    const malformed = ids.filter((id) => typeof id !== 'string' || !UUID.test(id));
    if (malformed.length) throw uploadNotFound({ ids: malformed });
    const linked: Array<{ id: string }> = await trx('uploads')
      .whereIn('id', ids)
      .where('visitor_id', visitorId)
      .where((w) => {
        w.whereNull('application_id').orWhere('application_id', applicationId);
      })
      .update({ application_id: applicationId })
      .returning('id');
    if (linked.length !== ids.length) {
      const ok = new Set(linked.map((r) => r.id));
      throw uploadNotFound({ ids: ids.filter((id) => !ok.has(id)) });
    }
  }

  async listForApplication(applicationId: number, trx: Knex = this.knex): Promise<Attachment[]> {
    const rows = await trx('uploads').where({ application_id: applicationId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
    return rows.map((r: any) => toAttachment(fromDb(r)));
  }

  /** The application's uploads as one json column, for a caller that reads them within its own query. */
  attachmentsColumn(knex: Knex, applicationId: number | Knex.Raw): Knex.Raw {
    return knex.raw("(select coalesce(json_agg(u order by u.created_at, u.id), '[]'::json) from uploads u where u.application_id = ?)", [
      applicationId,
    ]);
  }

  /** The attachments in the value of attachmentsColumn. */
  attachmentsFromJson(value: unknown): Attachment[] {
    return (value as any[]).map((r) => toAttachment(fromDb(r)));
  }

  /** Retention purge of one application's files and rows. Returns how many uploads were removed. */
  async deleteForApplication(applicationId: number): Promise<number> {
    return this.deleteWhere((q) => q.where({ application_id: applicationId }));
  }

  /** Uploads never attached to an application (the visitor gave up) older than the cutoff. */
  async deleteUnlinkedBefore(cutoff: Date): Promise<number> {
    return this.deleteWhere((q) => q.whereNull('application_id').where('created_at', '<', cutoff));
  }

  private async deleteWhere(filter: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
    // rows first: a file without a row is unreachable; a row without a file would be a broken link
    const rows: Array<{ storage_name: string }> = await filter(this.knex('uploads')).delete().returning('storage_name');
    for (const r of rows) await fs.promises.rm(this.filePath(r.storage_name), { force: true });
    return rows.length;
  }
}
