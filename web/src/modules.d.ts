// Packages without bundled types; only the calls the pages make.
declare module 'qrcode' {
  export function toCanvas(canvas: HTMLCanvasElement, text: string, options?: Record<string, unknown>): Promise<void>;
  const QRCode: { toCanvas: typeof toCanvas };
  export default QRCode;
}
declare module 'flatpickr/dist/l10n/zh.js' {
  export const Mandarin: any;
}
declare module 'virtual:tz-zones' {
  const zones: { version: string; zones: string[]; links: string[]; countries: string[] };
  export default zones;
}
declare module 'moment-timezone/moment-timezone' {
  const moment: any;
  export default moment;
}
