/**
 * `npm run bench` runs every benchmark; `npm run bench -- engine flow` runs the named ones.
 * Adding a bench is one line below: a name and a module exporting `run(): Promise<void>`.
 */
const benches: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  engine: () => import('./engine.ts'),
  flow: () => import('./flow.ts'),
  steps: () => import('./steps.ts'),
  burst: () => import('./burst.ts'),
  page: () => import('./page.ts'),
  chaos: () => import('./chaos.ts'),
  reports: () => import('./reports.ts'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((name) => !(name in benches));
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (known: ${Object.keys(benches).join(', ')})`);
  process.exit(2);
}
// A failing bench does not stop the others; the exit status says whether any failed (the CI smoke reads it).
const failed: string[] = [];
for (const name of wanted.length ? wanted : Object.keys(benches)) {
  console.log(`\n## bench: ${name}`);
  try {
    await (await benches[name]()).run();
  } catch (err) {
    failed.push(name);
    console.error(`bench ${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  }
}
if (failed.length) console.error(`\nfailed benches: ${failed.join(', ')}`);
process.exit(failed.length ? 1 : 0);
