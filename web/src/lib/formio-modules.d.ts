// The slot that vite.config.ts (formioModules) puts in place of Inputmask inside Form.io.
declare module 'virtual:formio-inputmask-slot' {
  export function provideInputmask(lib: unknown): void;
}
// Loaded only for forms with masks; Form.io calls it, we only hand it over.
declare module 'inputmask' {
  const Inputmask: unknown;
  export default Inputmask;
}
