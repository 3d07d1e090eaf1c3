/** Task report formatting as s3nd/deliverator writes it: Go-style durations and Mbit/s rates. */

/** `21.916462ms`, `1.5s`, `2m3.5s` — like Go's time.Duration.String(). */
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  if (seconds < 1e-6) return `${trim((seconds * 1e9).toFixed(0))}ns`;
  if (seconds < 1e-3) return `${trim((seconds * 1e6).toFixed(3))}µs`;
  if (seconds < 1) return `${trim((seconds * 1e3).toFixed(6))}ms`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const sText = `${trim(s.toFixed(9))}s`;
  if (h > 0) return `${h}h${m}m${sText}`;
  if (m > 0) return `${m}m${sText}`;
  return sText;
}

function trim(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** `42.123Mbit/s` */
export function mbitRate(bytesPerSecond: number): string {
  return `${((bytesPerSecond * 8) / 1e6).toFixed(3)}Mbit/s`;
}
