/** The slice of a pino logger the engine uses; pass the server's logger, or get silence. */
export interface EngineLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const silentLogger: EngineLogger = { error() {}, warn() {} };
