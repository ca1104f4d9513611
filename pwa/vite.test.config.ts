import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig, type Plugin } from 'vite';

// `npm test`: the PWA's logic that is not UI (sync engine, runner, store) in Node, against
// the real store (over fake-indexeddb), the real Automerge and a fake network. Vite
// compiles test/*.test.ts to test-dist/, which `node --test` runs.

const WASM = '\0automerge-wasm-bytes';

/**
 * In the app, Automerge's wasm is a URL the browser fetches; in Node the same slim build
 * is given the file's bytes.
 */
const wasmFromDisk: Plugin = {
  name: 'automerge-wasm-from-disk',
  enforce: 'pre',
  resolveId: (id) => (id === '@automerge/automerge/automerge.wasm?url' ? WASM : null),
  load(id) {
    if (id !== WASM) return null;
    const path = createRequire(import.meta.url).resolve('@automerge/automerge/automerge.wasm');
    return `import { readFileSync } from 'node:fs';\nexport default readFileSync(${JSON.stringify(path)});`;
  },
};

const tests = readdirSync('test').filter((f) => f.endsWith('.test.ts'));

export default defineConfig({
  plugins: [wasmFromDisk],
  publicDir: false,
  resolve: {
    alias: [{ find: /^cbor-x$/, replacement: 'cbor-x/index-no-eval' }],
  },
  build: {
    ssr: true,
    target: 'node20',
    outDir: 'test-dist',
    emptyOutDir: true,
    minify: false,
    rollupOptions: {
      input: Object.fromEntries(tests.map((f) => [f.replace(/\.ts$/, ''), `test/${f}`])),
      output: { entryFileNames: '[name].mjs', format: 'es' },
    },
  },
});
