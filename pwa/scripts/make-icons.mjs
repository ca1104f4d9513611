// Renders the app icons (a five-petal haitang blossom) straight to PNG so the
// build needs no image tooling. Run `npm run icons` after changing the design;
// the PNGs in public/ are committed.
import { writeFileSync, mkdirSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const BG = hex('#c2185b');
const PETAL = hex('#fde4ee');
const PETAL_EDGE = hex('#f48fb1');
const HEART = hex('#ffd54f');
const STAMEN = hex('#f9a825');

// Shape functions work in unit space: x, y in [-1, 1], centre at 0.
function flower(x, y, scale) {
  const u = x / scale;
  const v = y / scale;
  const r = Math.hypot(u, v);
  if (r < 0.16) return HEART;
  // Stamen dots on a ring around the heart.
  for (let k = 0; k < 10; k++) {
    const a = (k / 10) * 2 * Math.PI;
    if (Math.hypot(u - 0.24 * Math.cos(a), v - 0.24 * Math.sin(a)) < 0.045) return STAMEN;
  }
  for (let k = 0; k < 5; k++) {
    const a = -Math.PI / 2 + (k / 5) * 2 * Math.PI;
    const d = Math.hypot(u - 0.5 * Math.cos(a), v - 0.5 * Math.sin(a));
    if (d < 0.42) return d > 0.36 ? PETAL_EDGE : PETAL;
  }
  return null;
}

function roundedSquare(x, y, radius) {
  const ax = Math.max(Math.abs(x) - (1 - radius), 0);
  const ay = Math.max(Math.abs(y) - (1 - radius), 0);
  return Math.hypot(ax, ay) <= radius;
}

// Returns RGBA for one sample. `maskable` fills the whole square (the OS crops
// it) and keeps the blossom inside the 80 % safe zone.
function sample(x, y, maskable) {
  const inside = maskable || roundedSquare(x, y, 0.36);
  if (!inside) return [0, 0, 0, 0];
  const c = flower(x, y, maskable ? 0.62 : 0.8) ?? BG;
  return [c[0], c[1], c[2], 255];
}

function render(size, maskable) {
  const SS = 4; // supersampling for smooth edges
  const rgba = Buffer.alloc(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const x = ((px + (sx + 0.5) / SS) / size) * 2 - 1;
          const y = ((py + (sy + 0.5) / SS) / size) * 2 - 1;
          const s = sample(x, y, maskable);
          // Premultiply so transparent samples do not darken the edge.
          acc[0] += s[0] * s[3];
          acc[1] += s[1] * s[3];
          acc[2] += s[2] * s[3];
          acc[3] += s[3];
        }
      }
      const o = (py * size + px) * 4;
      const a = acc[3];
      rgba[o] = a ? Math.round(acc[0] / a) : 0;
      rgba[o + 1] = a ? Math.round(acc[1] / a) : 0;
      rgba[o + 2] = a ? Math.round(acc[2] / a) : 0;
      rgba[o + 3] = Math.round(a / (SS * SS));
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

mkdirSync(OUT, { recursive: true });
const targets = [
  ['icon-192.png', 192, false],
  ['icon-512.png', 512, false],
  ['icon-maskable-512.png', 512, true],
  ['apple-touch-icon.png', 180, true],
  ['favicon-48.png', 48, false],
];
for (const [name, size, maskable] of targets) {
  writeFileSync(join(OUT, name), png(size, render(size, maskable)));
  console.log(`wrote public/${name}`);
}
