import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { VitePWA } from 'vite-plugin-pwa';

// `npm run dev` / `npm run preview` forward API calls to a locally running
// server so the shell can be tried without embedding it.
const apiTarget = process.env.HAITANG_API ?? 'http://127.0.0.1:8080';
const proxy = { '/api': { target: apiTarget, changeOrigin: false } };

export default defineConfig({
  plugins: [
    preact(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.ts',
      // Registered by src/sw-register.ts so the page controls when an update applies.
      injectRegister: false,
      // The plugin adds the manifest and its icons to the precache list itself.
      includeManifestIcons: false,
      injectManifest: {
        // Automerge's wasm is part of the shell: records cannot be opened without it.
        globPatterns: ['**/*.{js,css,html,png,svg,wasm}'],
        maximumFileSizeToCacheInBytes: 8 * 1024 * 1024,
      },
      manifest: {
        id: '/',
        name: '海棠 · 网格巡查',
        short_name: '海棠',
        description: '网格化管理现场应用 / Urban grid patrol field app',
        lang: 'zh-CN',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'portrait',
        background_color: '#fff7fa',
        theme_color: '#c2185b',
        icons: [
          { src: '/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
    }),
  ],
  resolve: {
    // cbor-x probes for `new Function` as it loads, which the server's Content-Security-
    // Policy (no 'unsafe-eval') reports as a violation; its no-eval build never tries.
    alias: [{ find: /^cbor-x$/, replacement: 'cbor-x/index-no-eval' }],
  },
  build: {
    target: 'es2022',
    assetsDir: 'assets',
  },
  server: { proxy },
  preview: { proxy },
});
