// Colour maps and palettes.

/** Viridis (matplotlib, by van der Walt and Smith), 16 evenly spaced stops from t = 0 to t = 1. */
export const VIRIDIS_STOPS: readonly string[] = [
  '#440154', '#481a6c', '#472f7d', '#414487', '#39568c', '#31688e', '#2a788e', '#23888e',
  '#1f988b', '#22a884', '#35b779', '#54c568', '#7ad151', '#a5db36', '#d2e21b', '#fde725',
];

const rgb = (hex: string): [number, number, number] => [
  parseInt(hex.slice(1, 3), 16),
  parseInt(hex.slice(3, 5), 16),
  parseInt(hex.slice(5, 7), 16),
];
const STOPS_RGB = VIRIDIS_STOPS.map(rgb);
const hex2 = (v: number): string => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0');

/** Viridis colour at t in [0, 1] (clamped; NaN gives the middle), as "#rrggbb", linearly interpolated between stops. */
export function viridis(t: number): string {
  const u = Number.isNaN(t) ? 0.5 : Math.min(1, Math.max(0, t));
  const pos = u * (STOPS_RGB.length - 1);
  const i = Math.min(STOPS_RGB.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = STOPS_RGB[i];
  const b = STOPS_RGB[i + 1];
  return `#${hex2(a[0] + (b[0] - a[0]) * f)}${hex2(a[1] + (b[1] - a[1]) * f)}${hex2(a[2] + (b[2] - a[2]) * f)}`;
}

/** Relative luminance (WCAG) of a "#rrggbb" colour, 0 (black) to 1 (white). */
export function luminance(hex: string): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const [r, g, b] = rgb(hex);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white, whichever reads better on the background colour. */
export function textColorOn(hex: string): string {
  return luminance(hex) > 0.2 ? '#000000' : '#ffffff';
}

/** Categorical palette (Okabe and Ito, colour-blind safe; yellow last as it is faint on white). */
export const PALETTE: readonly string[] = [
  '#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442',
];

export function seriesColor(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}
