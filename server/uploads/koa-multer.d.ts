// @koa/multer ships no types; only the part we use is declared.
declare module '@koa/multer' {
  import type { IncomingMessage } from 'node:http';
  import type { Readable } from 'node:stream';
  import type { Middleware } from 'koa';

  export interface MulterFile {
    fieldname: string;
    originalname: string;
    encoding: string;
    mimetype: string;
    stream: Readable;
    [key: string]: unknown;
  }

  export interface StorageEngine {
    _handleFile(req: IncomingMessage, file: MulterFile, cb: (err: unknown, info?: Record<string, unknown>) => void): void;
    _removeFile(req: IncomingMessage, file: MulterFile & Record<string, unknown>, cb: (err: unknown) => void): void;
  }

  export interface MulterOptions {
    storage?: StorageEngine;
    limits?: {
      fieldNameSize?: number;
      fieldSize?: number;
      fields?: number;
      fileSize?: number;
      files?: number;
      parts?: number;
      headerPairs?: number;
    };
    defParamCharset?: string;
    preservePath?: boolean;
  }

  export interface Multer {
    single(field: string): Middleware;
  }

  export default function multer(options?: MulterOptions): Multer;
}
