import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { build, defineConfig, type Plugin, type UserConfig } from 'vite';

const root = path.resolve(import.meta.dirname, 'web');
const outDir = path.resolve(import.meta.dirname, 'dist/web');

/**
 * Writes .br and .gz siblings next to every text asset, so the server streams a ready file instead of
 * compressing on each request (brotli at quality 11 is far too slow to do per request).
 */
function precompress(): Plugin {
  return {
    name: 'visitflow-precompress',
    apply: 'build',
    writeBundle(_options, bundle) {
      // Only this build's files: the visitor page is a second build into the same folder (see visitorPage).
      for (const name of Object.keys(bundle)) {
        const file = path.join(outDir, name);
        if (!/\.(js|css|html|svg|json|txt|map)$/.test(file) || !fs.existsSync(file)) continue;
        const raw = fs.readFileSync(file);
        if (raw.length < 512) continue;
        fs.writeFileSync(
          `${file}.br`,
          zlib.brotliCompressSync(raw, {
            params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
          }),
        );
        fs.writeFileSync(`${file}.gz`, zlib.gzipSync(raw, { level: 9 }));
      }
    },
  };
}

/**
 * Form.io always fetches moment-timezone's full zone data (730 KB) from its CDN. The pages load this subset
 * instead (the campus zones and UTC) and mark the zones as loaded.
 */
function timezoneSubset(): Plugin {
  const id = 'virtual:tz-zones';
  const wanted = new Set(['Asia/Shanghai', 'Asia/Urumqi', 'Asia/Hong_Kong', 'Asia/Macau', 'Asia/Taipei', 'Etc/UTC', 'UTC']);
  return {
    name: 'visitflow-tz-subset',
    resolveId: (source) => (source === id ? `\0${id}` : undefined),
    load(resolved) {
      if (resolved !== `\0${id}`) return undefined;
      const packed = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, 'node_modules/moment-timezone/data/packed/latest.json'), 'utf8'));
      const zones = packed.zones.filter((z: string) => wanted.has(z.split('|')[0]));
      const have = new Set(zones.map((z: string) => z.split('|')[0]));
      const links = packed.links.filter((l: string) => have.has(l.split('|')[0]));
      return `export default ${JSON.stringify({ version: packed.version, zones, links, countries: [] })};`;
    },
  };
}

/**
 * The pages import Form.io's ES modules (lib/mjs) so that only the component types in use are bundled
 * (web/src/lib/formio.ts). Fixes that make those modules bundle: utils/index.js star-exports a few names from
 * two modules (ambiguous exports, an error for rolldown; the CommonJS build keeps the first, and so do the
 * explicit re-exports) and ChoicesWrapper imports a `KeyCodeMap` that choices.js does not export (it only
 * reads TAB_KEY, which it sets itself). Left out: the builder's edit forms, which the renderer never opens,
 * and Inputmask (a tenth of the renderer, only for fields with a mask): Form.io gets a slot that
 * formio.ts fills with the real library before rendering a form that has masks. DOMPurify is bundled once
 * (@formio/core would otherwise bring its CommonJS build next to the ES build @formio/js uses). Form.io's
 * template registry imports `Template` from @formio/core's experimental renderer, whose index (CommonJS, so
 * nothing is shaken out) brings that whole renderer and a core-js polyfill: it gets the Template module alone.
 * (The experimental index registers its components and templates on `Formio.Components`/`Formio.Templates`
 * when it loads, which are not set yet at that point: nothing else of it reaches a form.)
 */
function formioModules(): Plugin {
  const noEditForms = '\0formio-no-edit-forms';
  const inputmaskSlot = '\0formio-inputmask-slot';
  const dompurifyEsm = path.resolve(import.meta.dirname, 'node_modules/dompurify/dist/purify.es.mjs');
  const experimentalTemplate = path.resolve(import.meta.dirname, 'node_modules/@formio/core/lib/experimental/template/index.js');
  return {
    name: 'visitflow-formio-modules',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source === 'virtual:formio-inputmask-slot') return inputmaskSlot;
      // @formio/core requires DOMPurify's CommonJS build and @formio/js imports its ES build: one copy will do.
      if (source === 'dompurify') return dompurifyEsm;
      if (source === 'inputmask' && /\/@formio\/(js\/lib\/mjs|core\/lib)\//.test(importer ?? '')) return inputmaskSlot;
      if (!importer?.includes('/@formio/js/lib/mjs/')) return undefined;
      if (source === '@formio/core/experimental' && importer.endsWith('/templates/Templates.js')) return experimentalTemplate;
      if (importer.endsWith('/components/Components.js') && source.endsWith('/component/Component.form')) return noEditForms;
      return undefined;
    },
    load(id) {
      if (id === noEditForms) return 'export default function editForm() { return { components: [] }; }';
      if (id !== inputmaskSlot) return undefined;
      // @formio/core is shared with the admin page's full Form.io, whose builder preview never fills the slot:
      // there a mask check fetches the library and passes until it has arrived (the server checks masks too).
      return [
        'let real;',
        'let loading;',
        'export function provideInputmask(lib) { real = lib; }',
        "const need = () => { if (!real) throw new Error('Inputmask was not loaded for this form'); return real; };",
        'export default function Inputmask(...args) { return new (need())(...args); }',
        'Inputmask.format = (...args) => need().format(...args);',
        'Inputmask.unmask = (...args) => need().unmask(...args);',
        'Inputmask.isValid = (...args) => {',
        '  if (real) return real.isValid(...args);',
        "  loading ??= import('inputmask').then((m) => { real ??= [m.default, m.default?.default].find((x) => typeof x?.isValid === 'function'); });",
        '  return true;',
        '};',
      ].join('\n');
    },
    transform(code, id) {
      if (id.endsWith('/@formio/js/lib/mjs/utils/index.js')) return `${code}\nexport { uniqueName, getComponentPath, getComponentActualValue } from './utils';\n`;
      if (id.endsWith('/@formio/js/lib/mjs/utils/ChoicesWrapper.js')) {
        return code.replace("import Choices, { KeyCodeMap } from 'choices.js';", "import Choices from 'choices.js';\nconst KeyCodeMap = {};");
      }
      return undefined;
    },
  };
}

/**
 * The visitor page's HTML asks for the Form.io chunk (and its stylesheet) right away: most visitors come to
 * apply, and otherwise the download would only start once the page script has arrived and run, a few round
 * trips later on a phone network. Other routes do not wait for it (modulepreload does not run the module).
 */
function preloadRenderer(): Plugin {
  return {
    name: 'visitflow-preload-renderer',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(html, ctx) {
        if (ctx.path !== '/index.html' || !ctx.bundle) return undefined;
        const chunk = Object.values(ctx.bundle).find((c) => c.type === 'chunk' && c.facadeModuleId?.endsWith('/web/src/lib/formio.ts'));
        if (!chunk || chunk.type !== 'chunk') return undefined;
        const js = [chunk.fileName, ...chunk.imports].filter((f) => !html.includes(`/${f}"`));
        const css = [...(chunk.viteMetadata?.importedCss ?? [])];
        return [
          ...js.map((f) => ({ tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/${f}` }, injectTo: 'head' as const })),
          ...css.map((f) => ({ tag: 'link', attrs: { rel: 'preload', as: 'style', crossorigin: true, href: `/${f}` }, injectTo: 'head' as const })),
        ];
      },
    },
  };
}

/**
 * Drops the Bootstrap and Form.io rules whose classes appear nowhere in our pages, our forms, or the Form.io
 * code and templates that render them (60% of Bootstrap, a little of Form.io's sheet): fewer bytes before the first
 * paint and less style work on slow phones. A class is "used" when its name occurs as a token in those
 * sources; a token ending in '-' (`alert-${kind}`, `'btn-' + theme`) keeps every class it starts. Classes that
 * only come from the database (a `customClass` an administrator types in the builder) are not seen.
 */
function unusedCssRules() {
  const repo = import.meta.dirname;
  const targets = ['/bootstrap/dist/css/bootstrap.min.css', '/@formio/js/dist/formio.form.min.css'];
  const sources = [
    path.join(repo, 'web'),
    path.join(repo, 'forms'),
    path.join(repo, 'node_modules/@formio/js/lib/mjs'),
    path.join(repo, 'node_modules/@formio/bootstrap/lib/mjs/templates/bootstrap5'),
    path.join(repo, 'node_modules/choices.js/public/assets/scripts/choices.mjs'),
  ];
  let used: { names: Set<string>; prefixes: string[] } | undefined;
  const scan = () => {
    const names = new Set<string>();
    const walk = (p: string) => {
      const s = fs.statSync(p);
      if (s.isDirectory()) return fs.readdirSync(p).forEach((e) => walk(path.join(p, e)));
      if (!/\.(ts|js|mjs|html|json)$/.test(p) || p.endsWith('.d.ts')) return;
      for (const token of fs.readFileSync(p, 'utf8').split(/[^\w-]+/)) if (token) names.add(token);
    };
    sources.forEach(walk);
    return { names, prefixes: [...names].filter((n) => n.length > 2 && n.endsWith('-')) };
  };
  const isUsed = (cls: string) => used!.names.has(cls) || used!.prefixes.some((p) => cls.startsWith(p));
  // Classes under :not() need not be present for the selector to match; :is()/:where() need only one.
  const keep = (selector: string) =>
    [...selector.replace(/:(not|is|where|has)\((?:[^()]|\([^()]*\))*\)/g, '').matchAll(/\.(-?[_a-zA-Z][\w-]*)/g)].every((m) => isUsed(m[1]));
  return {
    postcssPlugin: 'visitflow-unused-css-rules',
    Once(root: any) {
      const file: string = root.source?.input?.file ?? '';
      if (!targets.some((t) => file.endsWith(t))) return;
      used ??= scan();
      root.walkRules((rule: any) => {
        if (rule.parent?.type === 'atrule' && /keyframes$/i.test(rule.parent.name)) return;
        const kept = rule.selectors.filter(keep);
        if (!kept.length) rule.remove();
        else if (kept.length < rule.selectors.length) rule.selectors = kept;
      });
      root.walkAtRules((at: any) => {
        if (at.nodes && at.nodes.length === 0) at.remove();
      });
    },
  };
}

const pages = {
  visitor: 'index.html',
  staff: 'staff/index.html',
  gate: 'gate/index.html',
  admin: 'admin/index.html',
};
type Page = keyof typeof pages;

/**
 * The visitor page is built on its own, after the others, into the same folder. Built together, the
 * admin page's Form.io builder shares modules with the visitor's renderer: the shared ones land in a chunk
 * of their own, which also carries the parts only the builder uses (a module is tree-shaken once for all
 * pages), and the visitor page then downloads two chunks with the exports and imports between them. Alone,
 * its renderer is one chunk of only what it uses: fewer bytes on the phone's first visit.
 */
function visitorPage(): Plugin {
  let outer: { mode: string; logLevel: UserConfig['logLevel']; minify: boolean | 'oxc' | 'terser' | 'esbuild' };
  return {
    name: 'visitflow-visitor-page',
    apply: 'build',
    configResolved(config) {
      // What the command line set for this build applies to the visitor page too.
      outer = { mode: config.mode, logLevel: config.logLevel, minify: config.build.minify };
    },
    async closeBundle(error?: Error) {
      if (error) return;
      const config = pageConfig(['visitor']);
      await build({ ...config, configFile: false, mode: outer.mode, logLevel: outer.logLevel, build: { ...config.build, minify: outer.minify } });
    },
  };
}

function pageConfig(input: Page[]): UserConfig {
  const first = !input.includes('visitor');
  return {
    root,
    base: '/',
    // Form.io's CommonJS code reads `global`.
    define: { global: 'globalThis' },
    publicDir: false,
    css: { postcss: { plugins: [unusedCssRules()] } },
    build: {
      outDir,
      emptyOutDir: first,
      target: 'es2020',
      sourcemap: false,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 2000,
      // An inline module preload polyfill would need 'unsafe-inline' in script-src.
      modulePreload: { polyfill: false },
      rolldownOptions: {
        input: Object.fromEntries(input.map((page) => [page, path.join(root, pages[page])])),
      },
    },
    plugins: [timezoneSubset(), formioModules(), preloadRenderer(), precompress(), ...(first ? [visitorPage()] : [])],
  };
}

export default defineConfig(pageConfig(['staff', 'gate', 'admin']));
