/**
 * Report images as PNG data URIs (encoded with pngjs): the example images of report.json (uint8,
 * HWC, base64) and the perturbation x′ − x as a diverging heat map.
 */
import { PNG } from 'pngjs';

/** Largest image side drawn; bigger example images are left out rather than bloating the page. */
const MAX_SIDE = 512;

/** Decodes a report image; undefined when the shape or the byte count is not that of an image. */
export function decodeImage(base64: unknown, shape: unknown): { pixels: Uint8Array; height: number; width: number; channels: number } | undefined {
  if (typeof base64 !== 'string' || !Array.isArray(shape) || shape.length !== 3) return undefined;
  const [height, width, channels] = shape as unknown[];
  if (!Number.isInteger(height) || !Number.isInteger(width) || !Number.isInteger(channels)) return undefined;
  const [h, w, c] = [height as number, width as number, channels as number];
  if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE || (c !== 1 && c !== 3)) return undefined;
  const pixels = new Uint8Array(Buffer.from(base64, 'base64'));
  if (pixels.length !== h * w * c) return undefined;
  return { pixels, height: h, width: w, channels: c };
}

function pngDataUri(rgba: Uint8Array, width: number, height: number): string {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;
}

/** An HWC uint8 image (1 or 3 channels) as a PNG data URI. */
export function imageDataUri(pixels: Uint8Array, height: number, width: number, channels: number): string {
  const rgba = new Uint8Array(height * width * 4);
  for (let i = 0; i < height * width; i++) {
    for (let k = 0; k < 3; k++) rgba[i * 4 + k] = pixels[i * channels + (channels === 1 ? 0 : k)];
    rgba[i * 4 + 3] = 255;
  }
  return pngDataUri(rgba, width, height);
}

/**
 * The perturbation of an adversarial image as a heat map: per pixel the channel mean of x′ − x,
 * divided by `scale` (in [0, 1] input units) and clipped to [−1, 1]; white is 0, red +1, blue −1.
 * For L∞, `scale` = ε makes full colour mean "moved by ε".
 */
export function perturbationDataUri(clean: Uint8Array, adversarial: Uint8Array, height: number, width: number, channels: number, scale: number): string {
  const rgba = new Uint8Array(height * width * 4);
  const s = scale > 0 ? scale : 1;
  for (let i = 0; i < height * width; i++) {
    let d = 0;
    for (let k = 0; k < channels; k++) d += adversarial[i * channels + k] - clean[i * channels + k];
    const t = Math.max(-1, Math.min(1, d / channels / 255 / s));
    const fade = Math.round(255 * (1 - Math.abs(t)));
    // Red (220, 38, 38) for increases, blue (37, 99, 235) for decreases, fading to white at 0.
    const [r, g, b] = t >= 0 ? [220, 38, 38] : [37, 99, 235];
    const a = Math.abs(t);
    rgba[i * 4] = Math.round(r * a + fade);
    rgba[i * 4 + 1] = Math.round(g * a + fade);
    rgba[i * 4 + 2] = Math.round(b * a + fade);
    rgba[i * 4 + 3] = 255;
  }
  return pngDataUri(rgba, width, height);
}

/** Largest |x′ − x| over pixels and channels, in [0, 1] units (the heat map's scale for L2). */
export function maxAbsDifference(clean: Uint8Array, adversarial: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < clean.length; i++) m = Math.max(m, Math.abs(adversarial[i] - clean[i]));
  return m / 255;
}
