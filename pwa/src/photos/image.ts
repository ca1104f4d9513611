import type { Photo } from './db';

/** Longest side of a stored photo, in pixels: plenty for a report, small on a slow network. */
export const MAX_SIDE = 1600;
const THUMB_SIDE = 240;
const QUALITY = 0.8;
const THUMB_QUALITY = 0.7;

/** Lower-case hex SHA-256 of the bytes: the photo's name on the phone and on the server. */
export async function sha256Hex(data: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await data.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Draws `image` scaled down to fit `max` on a white background and encodes it as JPEG. */
async function encode(image: ImageBitmap, max: number, quality: number): Promise<{ blob: Blob; width: number; height: number }> {
  const scale = Math.min(1, max / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  // JPEG everywhere: Safari's canvas cannot encode WebP and would silently give PNG.
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    if (ctx) {
      draw(ctx, image, width, height);
      return { blob: await canvas.convertToBlob({ type: 'image/jpeg', quality }), width, height };
    }
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas unavailable');
  draw(ctx, image, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality));
  if (!blob) throw new Error('cannot encode the photo');
  return { blob, width, height };
}

function draw(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  image: ImageBitmap,
  width: number,
  height: number,
): void {
  // Transparent PNGs would turn black in a JPEG.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(image, 0, 0, width, height);
}

function decode(file: Blob): Promise<ImageBitmap> {
  // 'from-image' applies the EXIF orientation, so a portrait photo stays upright
  // once re-encoded (the new JPEG carries no EXIF, which also drops the GPS tags).
  return createImageBitmap(file, { imageOrientation: 'from-image' });
}

/**
 * Turns a picked or captured file into a stored photo: resized to MAX_SIDE, JPEG at
 * about 80 %, named by its SHA-256, with a thumbnail.
 */
export async function preparePhoto(file: File, by: number, state: Photo['state']): Promise<Photo> {
  const image = await decode(file);
  try {
    const full = await encode(image, MAX_SIDE, QUALITY);
    const thumb = await encode(image, THUMB_SIDE, THUMB_QUALITY);
    return {
      sha256: await sha256Hex(full.blob),
      mime: 'image/jpeg',
      bytes: full.blob.size,
      width: full.width,
      height: full.height,
      taken_at: file.lastModified || Date.now(),
      by,
      full: full.blob,
      thumb: thumb.blob,
      state,
      created: Date.now(),
    };
  } finally {
    image.close();
  }
}

/** A thumbnail of an image downloaded from the server. */
export async function thumbnailOf(blob: Blob): Promise<Blob> {
  const image = await decode(blob);
  try {
    return (await encode(image, THUMB_SIDE, THUMB_QUALITY)).blob;
  } finally {
    image.close();
  }
}
