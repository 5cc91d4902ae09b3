import pino, { type Logger } from 'pino';

export type { Logger };

// Bodies are never logged; these paths are redacted in case a caller passes personal fields anyway.
const REDACT = [
  'idNumber',
  'mobile',
  'password',
  'phone',
  'hostMobile',
  '*.idNumber',
  '*.mobile',
  '*.password',
  '*.phone',
  '*.hostMobile',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'visitflow' } }, destination);
}
